/**
 * Compaction (etcd's defrag): rewrites a snapshot into a fresh page file, bucket by bucket in
 * key order, so every page comes out densely filled and the file holds no free pages. Large
 * stores are copied in several transactions to bound the memory of one commit.
 */
import type { Bucket } from "./bucket.ts";
import type { DB } from "./db.ts";
import { BUCKET_FLAG } from "./page.ts";
import type { Tx } from "./tx.ts";

/** Copies every bucket and key of `src` into the empty database `dst` and waits for durability. */
export async function compactSnapshot(src: Tx, dst: DB, batchBytes: number): Promise<void> {
  let tx = dst.begin(true);
  let bytes = 0;
  let resolved: { tx: Tx; names: Uint8Array[]; bucket: Bucket } | null = null;
  const dstBucket = (names: Uint8Array[]): Bucket => {
    if (resolved && resolved.tx === tx && resolved.names === names) return resolved.bucket;
    let b = tx.bucket(names[0])!;
    for (let i = 1; i < names.length; i++) b = b.bucket(names[i])!;
    resolved = { tx, names, bucket: b };
    return b;
  };
  const copy = async (from: Bucket, names: Uint8Array[]): Promise<void> => {
    const c = from.cursor();
    for (let ok = c.first(); ok; ok = c.next()) {
      const k = c.key();
      if (c.flags() & BUCKET_FLAG) {
        const name = k.slice();
        if (names.length === 0) tx.createBucket(name);
        else dstBucket(names).createBucket(name);
        await copy(from.bucket(name)!, [...names, name]);
        continue;
      }
      const v = c.value();
      dstBucket(names).put(k, v);
      bytes += k.length + v.length;
      if (bytes >= batchBytes) {
        await tx.commit();
        tx = dst.begin(true);
        bytes = 0;
      }
    }
  };
  try {
    await copy(src.root, []);
  } catch (err) {
    tx.rollback();
    throw err;
  }
  await tx.commit();
  await dst.flush();
}
