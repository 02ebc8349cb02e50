/**
 * etcd 3.7's RangeStream over the store: the answer Range would give, cut into chunks that
 * are read from the store one at a time, so a range of any size is served with the memory of
 * one chunk. The revision is pinned when the stream opens (the requested one, or the current
 * one), every chunk is read at it with a moving start key, and a compaction past it before
 * the last chunk ends the stream with etcd's compacted error rather than a mixed answer.
 *
 * Chunks start small (a first answer comes quickly) and double in size up to the request size
 * limit. Each carries the next kvs in key order; the last also carries what only the end of
 * the range knows: the header revision, `more` and `count` (etcd's field population: merging
 * every chunk gives Range's RangeResponse).
 */

import { Errors } from "../base/errors.ts";
import { bytesToKey, type KeySpan, spanOf } from "./key_bytes.ts";
import { decodeKeyValue } from "./kv_codec.ts";
import type { MvccStore } from "./kv_store.ts";
import { scanAt } from "./store_scans.ts";
import { type KeyValue, type RangeRequest, SortOrder, SortTarget } from "./types.ts";
import { checkRange } from "./validate.ts";

const EMPTY = new Uint8Array(0);

/** The first chunk's size in bytes of kvs (etcd starts at 10 kvs; bytes bound memory). */
export const FIRST_CHUNK_BYTES = 1024;

/** Bytes a kv takes in a chunk: its key and value plus mvccpb.KeyValue's framing. */
export function kvBytes(kv: KeyValue): number {
  return kv.key.length + kv.value.length + 40;
}

/** The end of a stream: what Range's response carries beside its kvs. */
export interface RangeStreamEnd {
  /** The store's revision when the stream opened (Range's header revision). */
  revision: number;
  more: boolean;
  count: number;
}

/** One chunk: the next kvs in key order; `end` only on the last chunk. */
export interface RangeStreamChunk {
  kvs: KeyValue[];
  end?: RangeStreamEnd;
}

/** Options of `openRangeStream`. */
export interface RangeStreamOptions {
  /** Bytes of kvs in the first chunk (default FIRST_CHUNK_BYTES). */
  firstChunkBytes?: number;
  /** The largest chunk, in bytes of kvs (the server's --max-request-bytes). */
  maxChunkBytes: number;
}

/**
 * etcd's checkRangeStreamRequest: Range's checks, then Unimplemented, with etcd's messages,
 * for what only a whole range can give: a sort other than by key ascending, revision
 * filters. One stricter than etcd: etcd lets order NONE with another target through
 * (IsDefaultOrdering), yet Range sorts that ascending by the target (etcd's and ours), so the
 * chunks could not merge into Range's answer; it is refused like any other sort.
 */
export function checkRangeStream(r: RangeRequest): void {
  checkRange(r);
  const order = r.sortOrder ?? SortOrder.NONE;
  const target = r.sortTarget ?? SortTarget.KEY;
  if (target !== SortTarget.KEY || order === SortOrder.DESCEND) throw Errors.rangeStreamSort();
  if (
    (r.minModRevision ?? 0) !== 0 || (r.maxModRevision ?? 0) !== 0 ||
    (r.minCreateRevision ?? 0) !== 0 || (r.maxCreateRevision ?? 0) !== 0
  ) {
    throw Errors.rangeStreamFilters();
  }
}

/**
 * Opens a stream over `store`: checks the request and pins the revision now (throwing
 * compacted or futureRev now, as Range would), then yields the chunks as they are pulled. A
 * stream that is dropped holds nothing: no read transaction stays open between chunks.
 * `store` may be a function giving the store to read each chunk from: a member that installs
 * a snapshot between two chunks replaces its store, and the later chunks read the new one at
 * the pinned revision (compacted there: the stream ends with etcd's compacted error).
 */
export function openRangeStream(
  storeOf: MvccStore | (() => MvccStore),
  r: RangeRequest,
  opts: RangeStreamOptions,
): Iterator<RangeStreamChunk> & Iterable<RangeStreamChunk> {
  checkRangeStream(r);
  const current = typeof storeOf === "function" ? storeOf : () => storeOf;
  const store = current();
  const headerRev = store.rev();
  let rev = r.revision ?? 0;
  if (rev > headerRev) throw Errors.futureRev();
  if (rev <= 0) rev = headerRev;
  if (rev < store.compactRev()) throw Errors.compacted();
  const span = spanOf(r.key, r.rangeEnd);
  if (r.countOnly) {
    const count = store.rangeAt(span, headerRev, { rev, count: true }).count;
    return [{ kvs: [], end: { revision: headerRev, more: false, count } }][Symbol.iterator]();
  }
  const limit = (r.limit ?? 0) > 0 ? r.limit! : Infinity;
  return chunks(current, span, rev, headerRev, limit, r.keysOnly === true, opts);
}

function* chunks(
  current: () => MvccStore,
  span: KeySpan,
  rev: number,
  headerRev: number,
  limit: number,
  keysOnly: boolean,
  opts: RangeStreamOptions,
): Generator<RangeStreamChunk> {
  const max = Math.max(1, opts.maxChunkBytes);
  let budget = Math.min(max, Math.max(1, opts.firstChunkBytes ?? FIRST_CHUNK_BYTES));
  let from: KeySpan = span;
  let sent = 0;
  for (;;) {
    const store = current();
    const kvs: KeyValue[] = [];
    let bytes = 0;
    let full = false;
    let last: KeyValue | undefined;
    scanAt(store, from, rev, (raw) => {
      if (sent + kvs.length >= limit) {
        full = true; // the limit is reached and at least one more key matches
        return false;
      }
      const kv = decodeKeyValue(raw);
      if (keysOnly) kv.value = EMPTY;
      const size = kvBytes(kv);
      if (kvs.length > 0 && bytes + size > budget) {
        full = true;
        return false;
      }
      kvs.push(kv);
      bytes += size;
      last = kv;
      return true;
    });
    sent += kvs.length;
    if (full && sent < limit) {
      // the chunk is full and more of the range remains: on from just past the last key
      yield { kvs };
      from = { key: bytesToKey(last!.key) + "\0", end: span.end };
      budget = Math.min(max, budget * 2);
      continue;
    }
    let count = sent;
    let more = false;
    if (full && last !== undefined) {
      // the limit cut the range: Range's count is every key in it
      const rest = { key: bytesToKey(last.key) + "\0", end: span.end };
      const remaining = store.rangeAt(rest, headerRev, { rev, count: true }).count;
      count += remaining;
      more = remaining > 0;
    }
    yield { kvs, end: { revision: headerRev, more, count } };
    return;
  }
}
