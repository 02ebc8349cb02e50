/**
 * The cluster's key history, kept outside the members as they apply it. Checkers used to read
 * the healed cluster's final store at any past revision; compaction (part of the workload now)
 * throws that history away, so the run records every revision here before any compaction may
 * reach it (a compaction's revision is drawn at or below `rev()`). Every member's store is
 * compared with the record, revision by revision, as it applies: a member whose store differs
 * at some revision is a violation at once, not only a different hash at the end.
 */
import { bytesToKey } from "../../lib/mvcc/key_bytes.ts";
import type { MvccStore } from "../../lib/mvcc/kv_store.ts";
import type { KeyValue } from "../../lib/mvcc/types.ts";

/** Every key: etcd's key "\0" with range end "\0". */
const ALL = { key: "\0", end: "" } as const;

/** What the checkers read: a key as it was at a revision. */
export interface HistoryView {
  /** The newest revision recorded. */
  rev(): number;
  /** `key` at revision `rev` (undefined: absent). */
  at(key: string, rev: number): KeyValue | undefined;
  /** Every key the history ever had. */
  keys(): string[];
  /** The changes of `key` in revision order. */
  changes(key: string): readonly Change[];
}

/** One change of a key: its value from `rev` on (undefined: deleted). */
export interface Change {
  rev: number;
  kv: KeyValue | undefined;
  /** Simulated ms at which the archive first saw it (at most one step after its apply). */
  seenMs: number;
}

export class HistoryArchive implements HistoryView {
  /** A store begins at revision 1 with no keys (etcd's). */
  #rev = 1;
  readonly #changes = new Map<string, Change[]>();
  #latest = new Map<string, KeyValue>();
  /** Per store (one per member incarnation), the newest revision compared with the record. */
  readonly #checked = new WeakMap<MvccStore, number>();
  readonly violations: string[] = [];

  rev(): number {
    return this.#rev;
  }

  keys(): string[] {
    return [...this.#changes.keys()];
  }

  at(key: string, rev: number): KeyValue | undefined {
    const l = this.#changes.get(key);
    if (l === undefined) return undefined;
    let v: KeyValue | undefined;
    for (const c of l) {
      if (c.rev > rev) break;
      v = c.kv;
    }
    return v;
  }

  /** The changes of `key` in revision order. */
  changes(key: string): readonly Change[] {
    return this.#changes.get(key) ?? [];
  }

  /**
   * Records the revisions `store` has past the record (read before anything can compact
   * them), then compares the store's not yet compared revisions with the record.
   */
  observe(name: string, store: MvccStore, nowMs: number): void {
    for (let r = this.#rev + 1; r <= store.rev(); r++) {
      if (r < store.compactRev()) {
        this.violations.push(`${name}: revision ${r} compacted before the run recorded it`);
        this.#rev = store.rev();
        break;
      }
      const now = new Map<string, KeyValue>();
      let changed = 0;
      for (const kv of store.range(ALL, { rev: r }).kvs) {
        const k = bytesToKey(kv.key);
        now.set(k, kv);
        if (kv.modRevision === r) {
          this.#change(k, { rev: r, kv, seenMs: nowMs });
          changed++;
        }
      }
      for (const k of this.#latest.keys()) {
        if (!now.has(k)) {
          this.#change(k, { rev: r, kv: undefined, seenMs: nowMs });
          changed++;
        }
      }
      if (changed === 0) this.violations.push(`${name}: revision ${r} changed no key`);
      this.#latest = now;
      this.#rev = r;
    }
    const from = Math.max(this.#checked.get(store) ?? 0, store.compactRev() - 1, 0) + 1;
    const to = Math.min(store.rev(), this.#rev);
    for (let r = from; r <= to; r++) {
      const have = store.range(ALL, { rev: r }).kvs.map(describe).join(", ");
      const want = this.keys().sort().flatMap((k) => {
        const kv = this.at(k, r);
        return kv === undefined ? [] : [describe(kv)];
      }).join(", ");
      if (have !== want) {
        this.violations.push(
          `${name} differs from the cluster's history at revision ${r}: it has [${have}], ` +
            `the history [${want}]`,
        );
        break;
      }
    }
    if (to >= from) this.#checked.set(store, to);
  }

  #change(key: string, c: Change): void {
    let l = this.#changes.get(key);
    if (l === undefined) this.#changes.set(key, l = []);
    l.push(c);
  }
}

const dec = new TextDecoder();

function describe(kv: KeyValue): string {
  return `${bytesToKey(kv.key)}=${dec.decode(kv.value)}@${kv.createRevision}/${kv.modRevision}` +
    `/v${kv.version}${kv.lease === 0n ? "" : `/lease ${kv.lease.toString(16)}`}`;
}
