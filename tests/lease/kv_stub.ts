/**
 * A key deleter that records each revoke's keys, so the lessor's unit tests can assert what a
 * revoke asked for: keys live in a "kv" bucket of the same backend and each `deleteKeys` call
 * is one revision. The real path, through lib/mvcc's write transaction, is tested in
 * revoke_mvcc_test.ts.
 */
import type { Backend } from "../../lib/backend/backend.ts";
import type { LeaseKeyDeleter } from "../../lib/lease/lessor.ts";

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Keys in a bucket; one revision per deleteKeys call; remembers each call's keys. */
export class BucketKv implements LeaseKeyDeleter {
  revision = 1;
  calls: string[][] = [];
  constructor(readonly backend: Backend) {
    backend.write.createBucket("kv");
  }
  put(key: string): void {
    this.revision++;
    this.backend.write.put("kv", enc(key), enc("v"));
  }
  has(key: string): boolean {
    return this.backend.read.get("kv", enc(key)) !== undefined;
  }
  deleteKeys(keys: readonly Uint8Array[]): number {
    this.revision++;
    this.calls.push(keys.map(dec));
    for (const k of keys) this.backend.write.delete("kv", k);
    return this.revision;
  }
}
