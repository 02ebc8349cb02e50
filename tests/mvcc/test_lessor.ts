/** A lessor for tests: a fixed set of leases and the keys attached to each. */
import type { LeaseHooks } from "../../lib/mvcc/lease_hooks.ts";

export class TestLessor implements LeaseHooks {
  readonly attached = new Map<bigint, Set<string>>();
  constructor(readonly leases: bigint[]) {
    for (const l of leases) this.attached.set(l, new Set());
  }
  exists(id: bigint): boolean {
    return this.attached.has(id);
  }
  attach(id: bigint, key: Uint8Array): void {
    const s = this.attached.get(id);
    if (!s) throw new Error(`attach to unknown lease ${id}`);
    const k = String.fromCharCode(...key);
    if (s.has(k)) throw new Error(`key attached twice to ${id}`);
    s.add(k);
  }
  detach(id: bigint, key: Uint8Array): void {
    const s = this.attached.get(id);
    const k = String.fromCharCode(...key);
    if (!s || !s.delete(k)) throw new Error(`detach of a key not attached to ${id}`);
  }
}
