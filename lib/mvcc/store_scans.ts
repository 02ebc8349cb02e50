/**
 * The store's readers of a whole span or bucket, apart from its Range: `scanAt`, the paged
 * read RangeStream (range_stream.ts) serves its chunks with, and the two hashes members compare
 * (`hashKV`, etcd's HashByRev, and `hashBuckets`, etcd's backend Hash). They read the key
 * index and the backend through the store's internal accessors and change nothing.
 */
import { crc32c } from "../base/crc32c.ts";
import { Errors } from "../base/errors.ts";
import { secondsSince } from "../base/metric_sink.ts";
import { historyGet, historyKeep, newRevAt } from "./key_history.ts";
import { bytesToKey, type KeySpan } from "./key_bytes.ts";
import { decodeKeyValue } from "./kv_codec.ts";
import type { MvccStore } from "./kv_store.ts";
import { bytesToMain, bytesToSub, isTombstone, mainRevBytes } from "./revision.ts";
import { CONSISTENT_INDEX_KEY, KEY_BUCKET, META_BUCKET, TERM_KEY } from "./store_buckets.ts";

const EMPTY = new Uint8Array(0);

/**
 * Visits, in key order from `span.key`, the kvs of `span` live at revision `rev` (raw, as
 * stored: a view valid only during the call), until `visit` returns false. This is a range
 * read in pages: the caller holds what it keeps and no more, so a stream of chunks at one
 * pinned revision needs memory for a chunk, never the whole range. Throws as `rangeAt`
 * does: compacted once `rev` is below the compacted revision (also between two pages of
 * the same stream), futureRev above the current one.
 */
export function scanAt(
  store: MvccStore,
  span: KeySpan,
  rev: number,
  visit: (raw: Uint8Array) => boolean,
): void {
  if (rev > store.rev()) throw Errors.futureRev();
  if (rev < store.compactRev()) throw Errors.compacted();
  const out = newRevAt();
  const index = store._index;
  if (span.end === undefined) {
    const h = index.get(span.key);
    if (h !== undefined && historyGet(h, rev, out)) visit(store._fetchRaw(out.main, out.sub));
    return;
  }
  index.ascend(span.key, span.end, (_k, h) => {
    if (!historyGet(h, rev, out)) return true;
    return visit(store._fetchRaw(out.main, out.sub));
  });
}

/**
 * etcd's HashByRev: CRC-32C of the "key" bucket name and every key/value pair up to `rev`
 * (0 = current), skipping revisions a compaction at `rev` would drop, plus the revisions.
 * A tombstone at exactly the compacted revision is skipped too: compaction keeps it (etcd PR
 * #18274, see key_history.ts) where etcd before 3.4.34 deleted it, and etcd's HashByRev
 * since that PR skips it so that old and new members hash alike. Without the skip the two
 * differ once no key is live (etcd's keep set is empty and every stored pair is hashed):
 * etcd 3.4.23 leaves the tombstone out, a store that kept it would hash it.
 */
export function hashKV(
  store: MvccStore,
  rev: number,
): { hash: number; rev: number; compactRev: number } {
  const t0 = performance.now();
  const compactRev = store.compactRev();
  const currentRev = store.rev();
  if (rev > 0 && rev <= compactRev) throw Errors.compacted();
  if (rev > 0 && rev > currentRev) throw Errors.futureRev();
  if (rev === 0) rev = currentRev;
  const out = newRevAt();
  const index = store._index;
  // etcd skips compacted-away revisions only when its keep set is non-empty.
  let anyKept = false;
  index.ascend("", "", (_k, h) => {
    anyKept = historyKeep(h, rev, out);
    return !anyKept;
  });
  let hash = crc32c(new TextEncoder().encode(KEY_BUCKET));
  // A negative revision (etcd lets it through) covers no revision at all.
  store.backend.read.range(KEY_BUCKET, EMPTY, mainRevBytes(Math.max(0, rev + 1)), (k, v) => {
    const main = bytesToMain(k);
    if (main <= compactRev && anyKept) {
      const h = index.get(bytesToKey(decodeKeyValue(v).key));
      if (h === undefined || !historyKeep(h, rev, out)) return;
      if (out.main !== main || out.sub !== bytesToSub(k)) return;
    }
    if (main === compactRev && isTombstone(k)) return;
    hash = crc32c(k, hash);
    hash = crc32c(v, hash);
  });
  store._metrics?.hashRevSeconds?.observe(secondsSince(t0));
  return { hash: hash >>> 0, rev: currentRev, compactRev };
}

/**
 * CRC-32C over the named buckets' keys and values (etcd's backend Hash), skipping the meta
 * bucket's consistent index and term, which differ between members by design.
 */
export function hashBuckets(store: MvccStore, buckets: string[]): number {
  const t0 = performance.now();
  let hash = 0;
  const enc = new TextEncoder();
  const skip = new Set([bytesToKey(CONSISTENT_INDEX_KEY), bytesToKey(TERM_KEY)]);
  for (const b of [...buckets].sort()) {
    hash = crc32c(enc.encode(b), hash);
    store.backend.read.range(b, EMPTY, undefined, (k, v) => {
      if (b === META_BUCKET && skip.has(bytesToKey(k))) return;
      hash = crc32c(k, hash);
      hash = crc32c(v, hash);
    });
  }
  store._metrics?.hashSeconds?.observe(secondsSince(t0));
  return hash >>> 0;
}
