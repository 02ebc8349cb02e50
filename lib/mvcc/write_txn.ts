/**
 * The store's write transaction (`MvccStore.beginWrite`): every change it makes shares one main
 * revision, each a sub revision; reads inside it see its own changes; `end` makes the revision
 * current and announces the commit. It writes through the store's internal `_put`,
 * `_deleteRange` and `_endWrite`.
 */
import type { LeaseId } from "../base/types.ts";
import type { KeySpan } from "./key_bytes.ts";
import type { MvccStore, RangeOptions, RangeResult, WriteTxn } from "./kv_store.ts";
import type { KeyValue } from "./types.ts";

/** The one write transaction a store has open at a time. */
export class StoreWriteTxn implements WriteTxn {
  readonly #s: MvccStore;
  readonly #begin: number;
  readonly #changes: KeyValue[] = [];
  #ended = false;
  /** Operations of this txn (etcd counts a txn of more than one in etcd_mvcc_txn_total). */
  #ops = 0;

  constructor(s: MvccStore, begin: number) {
    this.#s = s;
    this.#begin = begin;
  }

  rev(): number {
    return this.#changes.length > 0 ? this.#begin + 1 : this.#begin;
  }

  firstRev(): number {
    return this.#s.firstRev();
  }

  range(span: KeySpan, ro: RangeOptions = {}): RangeResult {
    this.#ops++;
    return this.#s.rangeAt(span, this.rev(), ro);
  }

  put(key: Uint8Array, value: Uint8Array, lease: LeaseId): number {
    this.#check();
    const kv = this.#s._put(this.#begin + 1, this.#changes.length, key, value, lease);
    this.#changes.push(kv);
    this.#ops++;
    const m = this.#s._metrics;
    if (m !== undefined) {
      m.puts?.add();
      m.putBytes?.add(key.length + value.length);
    }
    return this.#begin + 1;
  }

  deleteRange(span: KeySpan): { deleted: number; rev: number } {
    this.#check();
    this.#ops++;
    this.#s._metrics?.deletes?.add();
    const dels = this.#s._deleteRange(this.#begin + 1, this.#changes.length, span, this.rev());
    for (const d of dels) this.#changes.push(d);
    if (dels.length !== 0 || this.#changes.length > 0) {
      return { deleted: dels.length, rev: this.#begin + 1 };
    }
    return { deleted: 0, rev: this.#begin };
  }

  changeCount(): number {
    return this.#changes.length;
  }

  end(): void {
    this.#check();
    this.#ended = true;
    if (this.#ops > 1) this.#s._metrics?.txns?.add();
    this.#s._endWrite(this.#begin + 1, this.#changes);
  }

  #check(): void {
    if (this.#ended) throw new Error("mvcc: write transaction already ended");
  }
}
