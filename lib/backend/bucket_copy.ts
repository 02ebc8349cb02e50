/**
 * The walk both defragmentations share (compact.ts's offline one, online_defrag.ts's sliced
 * one): every bucket and key of a snapshot, nested buckets included, copied in key order into
 * a destination whose write transaction may change between two keys (each caller commits in
 * batches). The caller's `step` hook, told each key's size, decides when to commit or to give
 * the event loop a turn; the walk waits only when the hook returns a promise.
 */
import type { Bucket } from "./bucket.ts";
import { BUCKET_FLAG } from "./page.ts";
import type { Tx } from "./tx.ts";

/**
 * Called after each key is copied, with its bytes of key and value. Returns a promise to pause
 * the walk until it settles (a commit, a turn of the event loop), or undefined to go on at once.
 */
export type CopyStep = (bytes: number) => Promise<void> | undefined;

/**
 * Copies every bucket and key under `from` into the transaction `dst()` returns at each step
 * (the buckets must not exist there yet), calling `step` after each key.
 */
export async function copyBucketTree(
  from: Bucket,
  dst: () => Tx,
  step: CopyStep,
): Promise<void> {
  // the destination bucket of the keys being copied, resolved again only when the walk enters
  // another bucket (a new `names` array) or the caller began another transaction
  let resolved: { tx: Tx; names: Uint8Array[]; bucket: Bucket } | null = null;
  const dstBucket = (names: Uint8Array[]): Bucket => {
    const tx = dst();
    if (resolved && resolved.tx === tx && resolved.names === names) return resolved.bucket;
    let b = tx.bucket(names[0])!;
    for (let i = 1; i < names.length; i++) b = b.bucket(names[i])!;
    resolved = { tx, names, bucket: b };
    return b;
  };
  const copy = async (src: Bucket, names: Uint8Array[]): Promise<void> => {
    const c = src.cursor();
    for (let ok = c.first(); ok; ok = c.next()) {
      const k = c.key();
      if (c.flags() & BUCKET_FLAG) {
        const name = k.slice();
        if (names.length === 0) dst().createBucket(name);
        else dstBucket(names).createBucket(name);
        await copy(src.bucket(name)!, [...names, name]);
        continue;
      }
      const v = c.value();
      dstBucket(names).put(k, v);
      const paused = step(k.length + v.length);
      if (paused !== undefined) await paused;
    }
  };
  await copy(from, []);
}
