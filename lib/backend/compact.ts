/**
 * Compaction (etcd's defrag): rewrites a snapshot into a fresh page file, bucket by bucket in
 * key order, so every page comes out densely filled and the file holds no free pages. Large
 * stores are copied in several transactions to bound the memory of one commit.
 */
import { copyBucketTree } from "./bucket_copy.ts";
import type { DB } from "./db.ts";
import type { Tx } from "./tx.ts";

/** Copies every bucket and key of `src` into the empty database `dst` and waits for durability. */
export async function compactSnapshot(src: Tx, dst: DB, batchBytes: number): Promise<void> {
  let tx = dst.begin(true);
  let bytes = 0;
  const nextBatch = async (): Promise<void> => {
    await tx.commit();
    tx = dst.begin(true);
    bytes = 0;
  };
  try {
    await copyBucketTree(src.root, () => tx, (n) => {
      bytes += n;
      return bytes >= batchBytes ? nextBatch() : undefined;
    });
  } catch (err) {
    tx.rollback();
    throw err;
  }
  await tx.commit();
  await dst.flush();
}
