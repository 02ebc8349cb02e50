/**
 * A temporary in-memory Backend for tests while the page-file backend lands. Test-only.
 */
import type { Backend, BatchTx, PinnedReadTx, ReadTx } from "../../lib/backend/backend.ts";
import { BTree } from "../../lib/mvcc/btree.ts";
import { bytesToKey, keyToBytes } from "../../lib/mvcc/key_bytes.ts";

class MemTx implements BatchTx {
  buckets = new Map<string, BTree<Uint8Array>>();
  get(bucket: string, key: Uint8Array): Uint8Array | undefined {
    return this.buckets.get(bucket)?.get(bytesToKey(key));
  }
  range(
    bucket: string,
    start: Uint8Array,
    end: Uint8Array | undefined,
    fn: (key: Uint8Array, value: Uint8Array) => boolean | void,
    limit = 0,
  ): void {
    const b = this.buckets.get(bucket);
    if (!b) return;
    let n = 0;
    const e = end === undefined ? "" : bytesToKey(end);
    if (end !== undefined && end.length === 0) return;
    b.ascend(bytesToKey(start), e, (k, v) => {
      if (fn(keyToBytes(k), v) === false) return false;
      n++;
      return limit === 0 || n < limit;
    });
  }
  createBucket(bucket: string): void {
    if (!this.buckets.has(bucket)) this.buckets.set(bucket, new BTree());
  }
  deleteBucket(bucket: string): void {
    this.buckets.delete(bucket);
  }
  put(bucket: string, key: Uint8Array, value: Uint8Array): void {
    const b = this.buckets.get(bucket);
    if (!b) throw new Error(`bucket ${bucket} not found`);
    b.set(bytesToKey(key), value);
  }
  delete(bucket: string, key: Uint8Array): void {
    this.buckets.get(bucket)?.delete(bytesToKey(key));
  }
}

/** Everything lives in memory; "reopen" by passing the same instance to a new store. */
export class MemBackend implements Backend {
  readonly tx = new MemTx();
  commits = 0;
  get read(): ReadTx {
    return this.tx;
  }
  get write(): BatchTx {
    return this.tx;
  }
  commit(): Promise<void> {
    this.commits++;
    return Promise.resolve();
  }
  pin(): Promise<PinnedReadTx> {
    return Promise.reject(new Error("not supported"));
  }
  writeTo(): Promise<number> {
    return Promise.reject(new Error("not supported"));
  }
  defrag(): Promise<void> {
    return Promise.resolve();
  }
  stats() {
    return { fileBytes: 0, inUseBytes: 0, commits: this.commits };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
