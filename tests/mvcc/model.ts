/**
 * A reference model of etcd's KV semantics: every revision ever written kept in plain arrays,
 * each read answered by scanning them. Slow and obviously correct; the randomized test
 * compares the real store against it field by field.
 */
import { Errors } from "../../lib/base/errors.ts";
import {
  type Compare,
  CompareResult,
  CompareTarget,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type KeyValue,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type RequestOp,
  type ResponseOp,
  SortOrder,
  SortTarget,
  type TxnRequest,
  type TxnResponse,
} from "../../lib/mvcc/types.ts";

const EMPTY = new Uint8Array(0);

function str(b: Uint8Array): string {
  return Array.from(b, (c) => String.fromCharCode(c)).join("");
}

function cmpBytes(a: Uint8Array, b: Uint8Array): number {
  const x = str(a);
  const y = str(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

interface Entry {
  main: number;
  kv: KeyValue | null; // null = tombstone
}

/** Which keys a (key, range_end) pair selects, by etcd's rules. */
export function inSpan(key: Uint8Array, end: Uint8Array | undefined, k: string): boolean {
  const a = str(key);
  if (end === undefined || end.length === 0) return k === a;
  if (end.length === 1 && end[0] === 0) return k >= a;
  return k >= a && k < str(end);
}

function copyKv(kv: KeyValue): KeyValue {
  return { ...kv };
}

export class Model {
  rev = 1;
  compactRev = -1;
  history = new Map<string, Entry[]>();
  leases = new Set<bigint>();

  at(k: string, rev: number): KeyValue | null {
    const h = this.history.get(k) ?? [];
    let found: KeyValue | null = null;
    for (const e of h) if (e.main <= rev) found = e.kv;
    return found ? copyKv(found) : null;
  }

  keysAt(key: Uint8Array, end: Uint8Array | undefined, rev: number): KeyValue[] {
    const ks = [...this.history.keys()].filter((k) => inSpan(key, end, k)).sort();
    const out: KeyValue[] = [];
    for (const k of ks) {
      const kv = this.at(k, rev);
      if (kv) out.push(kv);
    }
    return out;
  }

  range(r: RangeRequest, viewRev = this.rev): RangeResponse {
    if (r.key.length === 0) throw Errors.emptyKey();
    let rev = r.revision ?? 0;
    if (rev > viewRev) throw Errors.futureRev();
    if (rev <= 0) rev = viewRev;
    if (rev < this.compactRev) throw Errors.compacted();
    const all = this.keysAt(r.key, r.rangeEnd, rev);
    if (r.countOnly) {
      return { header: { revision: viewRev }, kvs: [], more: false, count: all.length };
    }
    // etcd fetches only limit+1 keys (in key order) unless a sort order or a filter is set;
    // a sort target without an order then sorts just those (etcd's behaviour, kept).
    const fetchAll = (r.sortOrder ?? SortOrder.NONE) !== SortOrder.NONE || !!r.minModRevision ||
      !!r.maxModRevision || !!r.minCreateRevision || !!r.maxCreateRevision;
    const lim = r.limit ?? 0;
    const fetched = !fetchAll && lim > 0 ? all.slice(0, lim + 1) : all;
    let kvs = fetched.filter((kv) =>
      (!r.maxModRevision || kv.modRevision <= r.maxModRevision) &&
      (!r.minModRevision || kv.modRevision >= r.minModRevision) &&
      (!r.maxCreateRevision || kv.createRevision <= r.maxCreateRevision) &&
      (!r.minCreateRevision || kv.createRevision >= r.minCreateRevision)
    );
    const target = r.sortTarget ?? SortTarget.KEY;
    let order = r.sortOrder ?? SortOrder.NONE;
    if (order === SortOrder.NONE && target !== SortTarget.KEY) order = SortOrder.ASCEND;
    const field = (kv: KeyValue): number | string =>
      target === SortTarget.VERSION
        ? kv.version
        : target === SortTarget.CREATE
        ? kv.createRevision
        : target === SortTarget.MOD
        ? kv.modRevision
        : target === SortTarget.VALUE
        ? str(kv.value)
        : str(kv.key);
    // Stable sort by insertion: ties keep ascending key order in both directions.
    const idx = kvs.map((kv, i) => ({ kv, i }));
    if (order !== SortOrder.NONE) {
      const sign = order === SortOrder.DESCEND ? -1 : 1;
      idx.sort((a, b) => {
        const x = field(a.kv);
        const y = field(b.kv);
        if (x < y) return -sign;
        if (x > y) return sign;
        return a.i - b.i;
      });
    }
    kvs = idx.map((e) => e.kv);
    const limit = r.limit ?? 0;
    let more = false;
    if (limit > 0 && kvs.length > limit) {
      kvs = kvs.slice(0, limit);
      more = true;
    }
    if (r.keysOnly) kvs = kvs.map((kv) => ({ ...kv, value: EMPTY }));
    return { header: { revision: viewRev }, kvs, more, count: all.length };
  }

  #push(k: string, e: Entry): void {
    const h = this.history.get(k) ?? [];
    h.push(e);
    this.history.set(k, h);
  }

  /** Apply a put at revision `rev` (inside a txn whose writes are already applied). */
  #put(p: PutRequest, rev: number, viewRev: number): PutResponse {
    const k = str(p.key);
    const prev = this.at(k, viewRev);
    if ((p.ignoreValue || p.ignoreLease) && !prev) throw Errors.keyNotFound();
    const value = p.ignoreValue ? prev!.value : (p.value ?? EMPTY);
    const lease = p.ignoreLease ? prev!.lease : (p.lease ?? 0n);
    const cur = this.at(k, rev);
    const kv: KeyValue = {
      key: p.key,
      value,
      lease,
      modRevision: rev,
      createRevision: cur ? cur.createRevision : rev,
      version: cur ? cur.version + 1 : 1,
    };
    this.#push(k, { main: rev, kv });
    const resp: PutResponse = { header: { revision: rev } };
    if (p.prevKv && prev) resp.prevKv = prev;
    return resp;
  }

  #del(d: DeleteRangeRequest, rev: number, viewRev: number, changed: boolean): DeleteRangeResponse {
    const live = this.keysAt(d.key, d.rangeEnd, viewRev);
    for (const kv of live) this.#push(str(kv.key), { main: rev, kv: null });
    return {
      header: { revision: live.length > 0 || changed ? rev : rev - 1 },
      deleted: live.length,
      prevKvs: d.prevKv ? live : [],
    };
  }

  put(p: PutRequest): PutResponse {
    if (p.key.length === 0) throw Errors.emptyKey();
    if (p.ignoreValue && p.value?.length) throw Errors.valueProvided();
    if (p.ignoreLease && p.lease) throw Errors.leaseProvided();
    if (p.lease && !this.leases.has(p.lease)) throw Errors.leaseNotFound();
    const r = this.#put(p, this.rev + 1, this.rev);
    this.rev++;
    return r;
  }

  deleteRange(d: DeleteRangeRequest): DeleteRangeResponse {
    if (d.key.length === 0) throw Errors.emptyKey();
    const r = this.#del(d, this.rev + 1, this.rev, false);
    if (r.deleted > 0) this.rev++;
    return r;
  }

  #compare(c: Compare): boolean {
    const kvs = this.keysAt(c.key, c.rangeEnd, this.rev);
    const one = (kv: KeyValue | null): boolean => {
      let d: number;
      if (c.target === CompareTarget.VALUE) d = cmpBytes(kv?.value ?? EMPTY, c.value ?? EMPTY);
      else if (c.target === CompareTarget.LEASE) {
        const a = BigInt.asIntN(64, kv?.lease ?? 0n);
        const b = BigInt.asIntN(64, c.lease ?? 0n);
        d = a < b ? -1 : a > b ? 1 : 0;
      } else {
        const a = c.target === CompareTarget.VERSION
          ? kv?.version ?? 0
          : c.target === CompareTarget.CREATE
          ? kv?.createRevision ?? 0
          : kv?.modRevision ?? 0;
        const b = c.target === CompareTarget.VERSION
          ? c.version ?? 0
          : c.target === CompareTarget.CREATE
          ? c.createRevision ?? 0
          : c.modRevision ?? 0;
        d = Math.sign(a - b);
      }
      return c.result === CompareResult.EQUAL
        ? d === 0
        : c.result === CompareResult.NOT_EQUAL
        ? d !== 0
        : c.result === CompareResult.GREATER
        ? d > 0
        : d < 0;
    };
    if (kvs.length === 0) return c.target === CompareTarget.VALUE ? false : one(null);
    return kvs.every(one);
  }

  txn(t: TxnRequest, maxOps = 128): TxnResponse {
    this.#validate(t, maxOps);
    dupCheck(t.success ?? []);
    dupCheck(t.failure ?? []);
    // Decide every branch on the state before the txn.
    const decide = (x: TxnRequest): Decided => {
      const ok = (x.compare ?? []).every((c) => this.#compare(c));
      const ops = (ok ? x.success : x.failure) ?? [];
      return { ok, ops, nested: ops.map((o) => o.case === "requestTxn" ? decide(o.value) : null) };
    };
    const d = decide(t);
    const isWrite = (x: TxnRequest): boolean =>
      [...(x.success ?? []), ...(x.failure ?? [])].some((o) => o.case !== "requestRange");
    const write = isWrite(t);
    const begin = this.rev;
    const walk = (x: Decided, f: (o: RequestOp) => void) => {
      x.ops.forEach((o, i) => x.nested[i] ? walk(x.nested[i]!, f) : f(o));
    };
    if (write) {
      walk(d, (o) => {
        if (o.case !== "requestPut") return;
        if ((o.value.ignoreValue || o.value.ignoreLease) && !this.at(str(o.value.key), begin)) {
          throw Errors.keyNotFound();
        }
        if (o.value.lease && !this.leases.has(o.value.lease)) throw Errors.leaseNotFound();
      });
    }
    walk(d, (o) => {
      if (o.case !== "requestRange" || !o.value.revision) return;
      if (o.value.revision > begin) throw Errors.futureRev();
      if (o.value.revision < this.compactRev) throw Errors.compacted();
    });
    let changed = false;
    const rev = begin + 1;
    const run = (x: Decided): ResponseOp[] =>
      x.ops.map((o, i): ResponseOp => {
        const view = changed ? rev : begin;
        switch (o.case) {
          case "requestRange":
            return { case: "responseRange", value: this.range(o.value, view) };
          case "requestPut": {
            const r = this.#put(o.value, rev, view);
            changed = true;
            return { case: "responsePut", value: r };
          }
          case "requestDeleteRange": {
            const r = this.#del(o.value, rev, view, changed);
            if (r.deleted > 0) changed = true;
            return { case: "responseDeleteRange", value: r };
          }
          case "requestTxn": {
            const n = x.nested[i]!;
            return {
              case: "responseTxn",
              value: { header: { revision: 0 }, succeeded: n.ok, responses: run(n) },
            };
          }
        }
      });
    // All or nothing: a txn that fails part-way (a put with ignore_value after a delete of
    // its key through range_end "\0") leaves no trace.
    const saved = new Map([...this.history].map(([k, h]) => [k, h.slice()]));
    let responses: ResponseOp[];
    try {
      responses = run(d);
    } catch (e) {
      this.history = saved;
      throw e;
    }
    if (changed) this.rev = rev;
    return { header: { revision: this.rev }, succeeded: d.ok, responses };
  }

  #validate(t: TxnRequest, maxOps: number): void {
    const c = t.compare ?? [];
    const s = t.success ?? [];
    const f = t.failure ?? [];
    const opc = Math.max(c.length, s.length, f.length);
    if (opc > maxOps) throw Errors.tooManyOps();
    if (c.some((x) => x.key.length === 0)) throw Errors.emptyKey();
    for (const o of [...s, ...f]) {
      if (o.case === "requestTxn") this.#validate(o.value, maxOps - opc);
      else if (o.value.key.length === 0) throw Errors.emptyKey();
      else if (o.case === "requestPut") {
        if (o.value.ignoreValue && o.value.value?.length) throw Errors.valueProvided();
        if (o.value.ignoreLease && o.value.lease) throw Errors.leaseProvided();
      }
    }
  }

  compact(rev: number): void {
    if (rev <= this.compactRev) throw Errors.compacted();
    if (rev > this.rev) throw Errors.futureRev();
    this.compactRev = rev;
  }
}

interface Decided {
  ok: boolean;
  ops: RequestOp[];
  nested: (Decided | null)[];
}

/** etcd's duplicate rule, restated: the puts a branch may make and the ranges it deletes. */
function dupCheck(ops: RequestOp[]): { puts: Set<string>; dels: [string, string][] } {
  const dels: [string, string][] = [];
  for (const o of ops) {
    if (o.case !== "requestDeleteRange") continue;
    const k = str(o.value.key);
    const e = o.value.rangeEnd?.length ? str(o.value.rangeEnd) : k + "\0";
    dels.push([k, e]);
  }
  const hit = (k: string) => dels.some(([a, b]) => a <= k && k < b);
  const puts = new Set<string>();
  for (const o of ops) {
    if (o.case !== "requestTxn") continue;
    const a = dupCheck(o.value.success ?? []);
    const b = dupCheck(o.value.failure ?? []);
    for (const k of a.puts) {
      if (puts.has(k) || hit(k)) throw Errors.duplicateKey();
      puts.add(k);
    }
    for (const k of b.puts) {
      if ((puts.has(k) && !a.puts.has(k)) || hit(k)) throw Errors.duplicateKey();
      puts.add(k);
    }
    dels.push(...a.dels, ...b.dels);
  }
  for (const o of ops) {
    if (o.case !== "requestPut") continue;
    const k = str(o.value.key);
    if (puts.has(k) || hit(k)) throw Errors.duplicateKey();
    puts.add(k);
  }
  return { puts, dels };
}
