/**
 * etcd's snapshot files in `concord util snapshot status|restore`: a file saved by etcd's
 * `etcdctl snapshot save` (3.4, 3.5, 3.6) is etcd's bbolt db followed by the SHA-256 of it.
 * Concord keeps etcd's buckets with etcd's keys and values (mvcc revisions → mvccpb.KeyValue,
 * meta, lease → leasepb.Lease, auth/authUsers/authRoles → authpb records, alarm, members), so
 * an import reads every bucket with our bbolt reader (lib/backend/bbolt) and writes the same
 * entries into a new Concord page file; restore then proceeds as for a Concord snapshot (new
 * membership, consistent index). User passwords stay etcd's bcrypt hashes, which lib/auth
 * verifies. etcd's `members` buckets are dropped: restore writes the new cluster's.
 */
import { createHash } from "node:crypto";
import { crc32c } from "../base/crc32c.ts";
import type { Disk } from "../io/disk.ts";
import { openBackend } from "../backend/open.ts";
import { BoltReader } from "../backend/bbolt/reader.ts";
import { looksLikeBolt } from "../backend/bbolt/format.ts";
import { bytesToMain } from "../mvcc/revision.ts";
import { KEY_BUCKET, MvccStore } from "../mvcc/kv_store.ts";
import { decodeLease, LEASE_BUCKET } from "../lease/lease_record.ts";
import { AuthStore } from "../auth/store.ts";
import { MEMBERS_BUCKET, MEMBERS_REMOVED_BUCKET } from "../server/membership.ts";

const SHA_LEN = 32;
const CHUNK = 1 << 20;
/** An import commits the page file after this many entries or bytes (each commit fsyncs). */
const IMPORT_BATCH = 100_000;
const IMPORT_BATCH_BYTES = 32 << 20;
const decoder = new TextDecoder();

/** An etcd snapshot file that fails a check; the message says what is wrong. */
export class EtcdSnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EtcdSnapshotError";
  }
}

/** True when `file` starts with a bbolt meta page (an etcd snapshot or an etcd member db). */
export async function isEtcdSnapshot(disk: Disk, file: string): Promise<boolean> {
  const f = await disk.open(file, { readOnly: true });
  try {
    const head = new Uint8Array(32);
    const n = await f.readAt(head, 0);
    return looksLikeBolt(head.subarray(0, n));
  } finally {
    await f.close();
  }
}

/**
 * The bytes of `file` that are the bbolt db, after checking the SHA-256 trailer as etcdutl
 * does: a file whose size modulo 512 is 32 carries one, and it must match; a file without one
 * (a member's db copied directly) is accepted only with `skipHashCheck`.
 */
export async function verifiedBoltLength(
  disk: Disk,
  file: string,
  skipHashCheck: boolean,
): Promise<number> {
  const f = await disk.open(file, { readOnly: true });
  try {
    const size = await f.size();
    const hasHash = size % 512 === SHA_LEN;
    if (!hasHash) {
      if (!skipHashCheck) {
        throw new EtcdSnapshotError(
          `${file}: snapshot missing hash but --skip-hash-check=false`,
        );
      }
      return size;
    }
    const dbLen = size - SHA_LEN;
    if (skipHashCheck) return dbLen;
    const digest = createHash("sha256");
    const buf = new Uint8Array(CHUNK);
    for (let off = 0; off < dbLen;) {
      const n = await f.readAt(buf.subarray(0, Math.min(CHUNK, dbLen - off)), off);
      if (n <= 0) throw new EtcdSnapshotError(`${file}: short read at ${off}`);
      digest.update(buf.subarray(0, n));
      off += n;
    }
    const trailer = new Uint8Array(SHA_LEN);
    if (await f.readAt(trailer, dbLen) !== SHA_LEN) {
      throw new EtcdSnapshotError(`${file}: short read of the SHA-256 trailer`);
    }
    const got = new Uint8Array(digest.digest());
    if (!got.every((b, i) => b === trailer[i])) {
      throw new EtcdSnapshotError(`${file}: expected sha256 ${hex(trailer)}, got ${hex(got)}`);
    }
    return dbLen;
  } finally {
    await f.close();
  }
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** What etcdutl's `snapshot status` reports of a bbolt file. */
export interface BoltStatus {
  hash: number;
  revision: number;
  totalKey: number;
  totalSize: number;
}

/**
 * etcdutl's status of a bbolt file: CRC-32C (Castagnoli) over every bucket's name, keys and
 * values in bucket order; the main revision of the last key of "key"; the number of entries
 * of all buckets; the db's size (pages in use × page size). The same figures etcd prints.
 */
export async function etcdSnapshotStatus(
  disk: Disk,
  file: string,
  skipHashCheck = false,
): Promise<BoltStatus> {
  const length = await verifiedBoltLength(disk, file, skipHashCheck);
  const r = await BoltReader.open(disk, file, { length });
  try {
    let hash = 0;
    let revision = 0;
    let totalKey = 0;
    for (const name of await r.bucketNames()) {
      hash = crc32c(name, hash);
      const isKey = decoder.decode(name) === KEY_BUCKET;
      await r.forEach(name, (k, v, isBucket) => {
        hash = crc32c(k, hash);
        if (!isBucket) hash = crc32c(v, hash);
        if (isKey) revision = bytesToMain(k);
        totalKey++;
      });
    }
    return { hash: hash >>> 0, revision, totalKey, totalSize: r.size };
  } finally {
    await r.close();
  }
}

/**
 * Writes the buckets of etcd snapshot `file` into a new Concord page file at `db` (which must
 * not exist), and checks that the logic layers can load what was written: the key index
 * rebuilds, every lease decodes, users and roles decode. The members buckets are left out
 * (restore writes the new membership). Returns the entries copied.
 */
export async function importEtcdSnapshot(
  disk: Disk,
  file: string,
  db: string,
  skipHashCheck: boolean,
): Promise<number> {
  const length = await verifiedBoltLength(disk, file, skipHashCheck);
  const r = await BoltReader.open(disk, file, { length });
  let copied = 0;
  try {
    const backend = await openBackend(disk, db);
    try {
      const w = backend.write;
      for (const nameBytes of await r.bucketNames()) {
        const name = decoder.decode(nameBytes);
        if (name === MEMBERS_BUCKET || name === MEMBERS_REMOVED_BUCKET) continue;
        w.createBucket(name);
        let pending = 0;
        let pendingBytes = 0;
        await r.forEach(nameBytes, (k, v, isBucket) => {
          if (isBucket) {
            throw new EtcdSnapshotError(
              `${file}: bucket ${JSON.stringify(name)} holds a nested bucket ` +
                `${JSON.stringify(decoder.decode(k))}; etcd's buckets have none`,
            );
          }
          if (name === LEASE_BUCKET) decodeLease(v);
          w.put(name, k, v);
          copied++;
          pendingBytes += k.length + v.length;
          if (++pending >= IMPORT_BATCH || pendingBytes >= IMPORT_BATCH_BYTES) {
            pending = 0;
            pendingBytes = 0;
            return backend.commit(); // only then does the reader await
          }
        });
      }
      await backend.commit();
      // load what was written as a member would: a malformed record fails here, not at serve
      const store = MvccStore.open(backend);
      await store.close();
      new AuthStore(backend);
      await backend.commit();
    } finally {
      await backend.close();
    }
  } finally {
    await r.close();
  }
  return copied;
}
