/**
 * What the store keeps in its backend: the "key" bucket (revision -> mvccpb.KeyValue, see
 * revision.ts) and the "meta" bucket (compaction marks, the consistent index and term), the
 * meta bucket's keys (etcd's names), and the meta readers and writers, which need no open
 * store: a member reads the consistent index before it opens one.
 */
import type { Backend } from "../backend/backend.ts";
import { bytesToU64, u64ToBytes } from "./revision.ts";

/** The bucket of revisions -> KeyValue. */
export const KEY_BUCKET = "key";
/** The bucket of store metadata (compaction marks, consistent index, term). */
export const META_BUCKET = "meta";
/** The meta key of the compaction scheduled (its revision), finished or not. */
export const SCHEDULED_COMPACT_KEY = new TextEncoder().encode("scheduledCompactRev");
/** The meta key of the last finished compaction's revision. */
export const FINISHED_COMPACT_KEY = new TextEncoder().encode("finishedCompactRev");
/** The meta key of the last applied raft index (etcd's consistent index). */
export const CONSISTENT_INDEX_KEY = new TextEncoder().encode("consistent_index");
/** The meta key of the raft term of that index. */
export const TERM_KEY = new TextEncoder().encode("term");

/**
 * The consistent index a backend's page file holds (0 for a new one), read without opening a
 * store: a member compares it with its newest raft snapshot when it starts.
 */
export function storedConsistentIndex(backend: Backend): number {
  const i = backend.read.get(META_BUCKET, CONSISTENT_INDEX_KEY);
  return i ? bytesToU64(i) : 0;
}

/** The consistent index and term last stored (0 and 0 for a new backend). */
export function storedConsistentIndexAndTerm(backend: Backend): { index: number; term: number } {
  const t = backend.read.get(META_BUCKET, TERM_KEY);
  return { index: storedConsistentIndex(backend), term: t ? bytesToU64(t) : 0 };
}

/** Writes the consistent index and term into the backend's open batch. */
export function storeConsistentIndex(backend: Backend, index: number, term: number): void {
  backend.write.put(META_BUCKET, CONSISTENT_INDEX_KEY, u64ToBytes(index));
  backend.write.put(META_BUCKET, TERM_KEY, u64ToBytes(term));
}
