/**
 * Streaming copy: writes a read transaction's snapshot as a complete page file (both meta
 * pages naming the snapshot, every reachable page copied, every other page zeroed), in chunks,
 * while writers go on committing. The reader keeps the snapshot's pages from being reused.
 */
import { treePage } from "./cursor.ts";
import { CorruptionError } from "./errors.ts";
import { encodeMeta, type Meta } from "./meta.ts";
import {
  BRANCH,
  BUCKET_FLAG,
  elemChild,
  elemFlags,
  elemValue,
  FREELIST,
  pageCount,
  pageFlags,
  pageOverflow,
  u32,
} from "./page.ts";
import type { Tx } from "./tx.ts";

/** Bytes handed to the sink at a time. */
const CHUNK_BYTES = 4 << 20;

/**
 * Streams `tx`'s snapshot to `sink`; returns the bytes written. `onSize` learns the total
 * before the first chunk (a transfer announces it up front).
 */
export async function writeSnapshot(
  tx: Tx,
  sink: (chunk: Uint8Array) => Promise<void>,
  onSize?: (bytes: number) => void,
): Promise<number> {
  const meta = tx.meta;
  const ps = tx.pageSize;
  onSize?.(meta.hwm * ps);
  const live = new Map<number, number>(); // id -> span
  collectPages(tx, meta, live);
  const prev = encodeMeta({ ...meta, txid: meta.txid - 1 });
  const cur = encodeMeta(meta);
  let total = 0;
  let chunk = new Uint8Array(Math.min(CHUNK_BYTES, meta.hwm * ps));
  let used = 0;
  const flush = async () => {
    if (used === 0) return;
    await sink(chunk.slice(0, used));
    total += used;
    used = 0;
  };
  // Every byte of the chunk up to `used` is written by `add`, so chunks need no clearing.
  const add = async (p: Uint8Array) => {
    if (used + p.length > chunk.length) await flush();
    if (p.length > chunk.length) chunk = new Uint8Array(p.length);
    chunk.set(p, used);
    used += p.length;
  };
  await add(meta.txid % 2 === 0 ? cur : prev);
  await add(meta.txid % 2 === 0 ? prev : cur);
  const zero = new Uint8Array(ps);
  for (let id = 2; id < meta.hwm;) {
    const span = live.get(id);
    if (span === undefined) {
      await add(zero);
      id++;
    } else {
      await add(tx.page(id).subarray(0, span * ps));
      id += span;
    }
  }
  await flush();
  return total;
}

/** Every page span reachable from `meta` (buckets, nested buckets, freelist): id -> span. */
export function collectPages(tx: Tx, meta: Meta, out: Map<number, number>): void {
  const fl = tx.page(meta.freelist);
  if (pageFlags(fl) !== FREELIST) throw new CorruptionError(meta.freelist, "not a freelist page");
  out.set(meta.freelist, pageOverflow(fl) + 1);
  const walk = (id: number, depth: number) => {
    if (depth > 64) throw new CorruptionError(id, "tree deeper than 64 levels (a cycle?)");
    if (out.has(id)) throw new CorruptionError(id, "page reached twice (a cycle or shared page)");
    const p = treePage(tx, id);
    out.set(id, pageOverflow(p) + 1);
    const n = pageCount(p);
    if (pageFlags(p) === BRANCH) {
      for (let i = 0; i < n; i++) walk(elemChild(p, i), depth + 1);
    } else {
      for (let i = 0; i < n; i++) {
        if (elemFlags(p, i) & BUCKET_FLAG) walk(u32(elemValue(p, i), 0), depth + 1);
      }
    }
  };
  walk(meta.root, 0);
}
