/**
 * The KV clients of a whole-cluster run: each issues puts, linearizable gets (ReadIndex, then
 * the local store), serializable gets and group reads (the local store), deletes,
 * compare-and-swap txns, and multi-key ops over one small group of keys through the KV
 * service (txns comparing values or mod revisions of several keys, then puts and deletes of
 * several, else reads; txns of several gets; ranges over the group's prefix), through a random
 * member; gives up after the run's client timeout, and backs off when unanswered. What they did
 * is recorded for the checkers: the history (a write that failed or timed out keeps an
 * unknown outcome; a failed read is dropped), the revision each answer carried, and the
 * serializable reads.
 */
import { create } from "@bufbuild/protobuf";
import type { Rand } from "../../lib/base/rand.ts";
import type { Applied, Member } from "../../lib/server/member.ts";
import { RequestKind } from "../../lib/server/request.ts";
import {
  Compare_CompareResult,
  Compare_CompareTarget,
  CompareSchema,
  DeleteRangeRequestSchema,
  PutRequestSchema,
  RequestOpSchema,
  TxnRequestSchema,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { KvServer } from "../../lib/server/kv_server.ts";
import { NOBODY } from "../../lib/server/caller.ts";
import type { KvInput, KvOp, KvOutput, TxnCompare, TxnOp, TxnResult } from "./kv_history.ts";
import type { AckedRevisions, SerialRead } from "./cluster_history.ts";
import { isBackendFailure, type RunContext, serve } from "./run_context.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * The keys, in groups (few, so their operations contend): a multi-key op stays within one
 * group, so the linearizability check's components never exceed a group (3 keys).
 */
export const KEY_GROUPS: readonly { prefix: string; keys: readonly string[] }[] = [
  { prefix: "g0/", keys: ["g0/0", "g0/1", "g0/2"] },
  { prefix: "g1/", keys: ["g1/0", "g1/1"] },
];
const ALL_KEYS = KEY_GROUPS.flatMap((g) => g.keys);

/** The range end of every key under `prefix` (etcd's prefix end: the last byte plus one). */
function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/** True when the op writes nothing whatever its outcome (a failed one tells nothing). */
function isRead(i: KvInput): boolean {
  return i.kind === "get" || i.kind === "range" || (i.kind === "txn" && readsOnly(i));
}

/** True when no branch of the txn (nested ones included) writes. */
function readsOnly(t: { then: readonly TxnOp[]; else: readonly TxnOp[] }): boolean {
  return [...t.then, ...t.else].every((o) =>
    o.kind === "get" || (o.kind === "txn" && readsOnly(o))
  );
}

/** How the clients run. */
export interface KvClientsOptions {
  clients: number;
  opsPerClient: number;
  /**
   * A planted bug: `stale-read`, linearizable gets served without ReadIndex; `split-txn`, a
   * multi-key txn sent as its compares with its branch's first op, then each other op of the
   * branch in a txn of its own (applied in several revisions, answered as one txn).
   */
  bug?: "stale-read" | "split-txn";
  /** Member i was removed from the cluster (a call to it is refused). */
  removed(i: number): boolean;
  /** Member i's current incarnation (serializable reads never go back within one). */
  incarnation(i: number): number;
}

/** The clients and what they recorded. */
export class KvClients {
  readonly history: KvOp[] = [];
  /** The header revision each answered op got, by op id. */
  readonly revisions: AckedRevisions = new Map();
  /** Linearizable gets that failed: they tell nothing and leave the history. */
  readonly failedReads = new Set<number>();
  readonly serial: SerialRead[] = [];
  /** Serializable reads that found their member failed (or stopped while they waited). */
  serialFailed = 0;
  /** Serializable reads that waited for their member's snapshot install, then were served. */
  serialWaited = 0;
  readonly #ctx: RunContext;
  readonly #o: KvClientsOptions;
  #nextOp = 0;

  constructor(ctx: RunContext, o: KvClientsOptions) {
    this.#ctx = ctx;
    this.#o = o;
  }

  /** Starts every client; each promise resolves when its client is done. */
  start(): Promise<void>[] {
    return Array.from(
      { length: this.#o.clients },
      (_, id) => this.#client(id, this.#o.opsPerClient),
    );
  }

  /** The history without the reads that failed (for the checkers), in place. */
  answeredHistory(): KvOp[] {
    const kept = this.history.filter((op) => !this.failedReads.has(op.id));
    this.history.splice(0, this.history.length, ...kept);
    return this.history;
  }

  /** Runs one op; false when it was not answered (the client then backs off, as etcd's does). */
  async #op(
    client: number,
    m: Member,
    input: KvInput,
    seen: Map<string, Seen>,
  ): Promise<boolean> {
    const ctx = this.#ctx;
    const op: KvOp = {
      id: this.#nextOp++,
      client,
      input,
      call: ctx.tick(),
      ret: null,
      output: null,
      callMs: ctx.c.clock.now(),
    };
    this.history.push(op);
    let p: Promise<{ out: KvOutput; rev: number }>;
    const remember = (
      kvs: readonly { key: Uint8Array; value: Uint8Array; modRevision: bigint }[],
    ) => {
      for (const kv of kvs) {
        seen.set(dec.decode(kv.key), { value: dec.decode(kv.value), mod: Number(kv.modRevision) });
      }
    };
    switch (input.kind) {
      case "put":
        p = m.propose({
          kind: RequestKind.Put,
          req: create(PutRequestSchema, {
            key: enc.encode(input.key),
            value: enc.encode(input.value),
          }),
        })
          .then((a) => ({ out: { kind: "put" }, rev: revOf(a) }));
        break;
      case "delete":
        p = m.propose({
          kind: RequestKind.DeleteRange,
          req: create(DeleteRangeRequestSchema, { key: enc.encode(input.key) }),
        })
          .then((a) => ({
            out: { kind: "delete", deleted: a.kind === "delete" ? Number(a.r.deleted) : -1 },
            rev: revOf(a),
          }));
        break;
      case "cas":
        p = m.propose({ kind: RequestKind.Txn, req: casTxn(input.key, input.expect, input.value) })
          .then((a) => ({
            out: { kind: "cas", succeeded: a.kind === "txn" && a.r.succeeded },
            rev: revOf(a),
          }));
        break;
      case "get": {
        const read = this.#o.bug === "stale-read" ? Promise.resolve() : m.linearizableRead();
        p = read.then(() => {
          const res = m.store.range({ key: input.key, end: undefined });
          const kv = res.kvs[0];
          if (kv === undefined) seen.set(input.key, { value: null, mod: 0 });
          else seen.set(input.key, { value: dec.decode(kv.value), mod: kv.modRevision });
          return {
            out: { kind: "get", value: kv === undefined ? null : dec.decode(kv.value) },
            rev: res.rev,
          };
        });
        break;
      }
      case "txn":
        p =
          (this.#o.bug === "split-txn"
            ? splitTxn(m, input)
            : serve(() => new KvServer(m).txn(txnRequest(input), NOBODY)))
            .then((res) => {
              const reads = (rs: pb.ResponseOp[]) => {
                for (const r of rs) {
                  if (r.response.case === "responseRange") remember(r.response.value.kvs);
                  if (r.response.case === "responseTxn") reads(r.response.value.responses);
                }
              };
              reads(res.responses);
              return {
                out: { kind: "txn", succeeded: res.succeeded, results: txnResults(res) },
                rev: Number(res.header!.revision),
              };
            });
        break;
      case "range":
        p = serve(() =>
          new KvServer(m).range(
            create(pb.RangeRequestSchema, {
              key: enc.encode(input.prefix),
              rangeEnd: enc.encode(prefixEnd(input.prefix)),
            }),
            NOBODY,
          )
        ).then((res) => {
          for (const k of input.keys) seen.set(k, { value: null, mod: 0 });
          remember(res.kvs);
          return {
            out: {
              kind: "range",
              kvs: res.kvs.map((kv): [string, string] => [
                dec.decode(kv.key),
                dec.decode(kv.value),
              ]),
            },
            rev: Number(res.header!.revision),
          };
        });
        break;
    }
    const got = await ctx.within(p);
    if (got !== "timeout" && "v" in got) {
      op.ret = ctx.tick();
      op.retMs = ctx.c.clock.now();
      op.output = got.v.out;
      this.revisions.set(op.id, got.v.rev);
      return true;
    }
    if (isRead(input)) this.failedReads.add(op.id); // a failed read changed nothing
    // a write that failed or timed out stays with an unknown outcome: it may yet apply
    return false;
  }

  async #client(id: number, n: number): Promise<void> {
    const ctx = this.#ctx;
    const r = ctx.r;
    /** The value and mod revision this client last read of each key (for mod compares). */
    const seen = new Map<string, Seen>();
    for (let k = 0; k < n; k++) {
      const i = r.int(ctx.c.members.length);
      const m = this.#o.removed(i) ? null : ctx.c.members[i];
      if (m === null) {
        await ctx.sleep(5 + r.int(20)); // connection refused: try another member
        continue;
      }
      const group = r.pick(KEY_GROUPS);
      const key = r.pick(ALL_KEYS);
      const val = `c${id}.${k}`;
      const pick = r.int(13);
      if (pick < 2) {
        if (m.failure === null && m.applyingSnapshot) {
          // the read waits for the install, as the API's reads do (Member.storeReady)
          const ready = await ctx.within(m.storeReady());
          if (ready !== "timeout" && "v" in ready) this.serialWaited++;
        }
        if (m.failure !== null || m.applyingSnapshot || ctx.c.members[i] !== m) {
          // a serializable read there fails (a failed backend, a member that stopped or
          // crashed meanwhile); a failed read tells nothing
          this.serialFailed++;
          await ctx.sleep(5 + r.int(20));
          continue;
        }
        // one key, or a whole group at one revision (each key checked at that revision)
        const one = r.chance(0.6);
        let res: ReturnType<typeof m.store.range>;
        try {
          res = m.store.range(
            one ? { key, end: undefined } : { key: group.prefix, end: prefixEnd(group.prefix) },
          );
        } catch (e) {
          // its backend failed a moment ago: the read fails, as above
          if (!isBackendFailure(m, e)) throw e;
          this.serialFailed++;
          await ctx.sleep(5 + r.int(20));
          continue;
        }
        for (const k of one ? [key] : group.keys) {
          const kv = res.kvs.find((x) => dec.decode(x.key) === k);
          this.serial.push({
            client: id,
            member: i,
            incarnation: this.#o.incarnation(i),
            key: k,
            value: kv === undefined ? null : dec.decode(kv.value),
            rev: res.rev,
            atMs: ctx.c.clock.now(),
          });
        }
      } else {
        const input: KvInput = pick < 5
          ? { kind: "put", key, value: val }
          : pick < 8
          ? { kind: "get", key }
          : pick < 9
          ? { kind: "delete", key }
          : pick < 10
          ? {
            kind: "cas",
            key,
            expect: r.chance(0.3) ? null : `c${r.int(this.#o.clients)}.${r.int(n)}`,
            value: val,
          }
          : pick < 12
          ? multiKeyTxn(r, group.keys, val, seen, this.#o.clients, n)
          : r.chance(0.15)
          // over both groups: the linearizability check's components merge
          ? { kind: "range", prefix: "g", keys: [...ALL_KEYS] }
          : r.chance(0.4)
          ? { kind: "range", prefix: group.prefix, keys: [...group.keys] }
          : { kind: "txn", compare: [], then: r.shuffle([...group.keys]).map(getOp), else: [] };
        if (!await this.#op(id, m, input, seen)) await ctx.sleep(50 + r.int(100));
      }
      await ctx.sleep(r.int(15));
    }
  }
}

/** What a client last read of a key: its value (null: absent) and mod revision (0: absent). */
interface Seen {
  value: string | null;
  mod: number;
}

const getOp = (key: string): TxnOp => ({ kind: "get", key });

/**
 * A txn over 2 or 3 keys of one group, as etcd's robustness workload makes them: compares on
 * one or more keys' values or mod revisions (a mod revision this client read, or the value it
 * read, or a guess), then puts (and now and then a delete) of several keys, else a read of the
 * group's keys.
 */
function multiKeyTxn(
  r: Rand,
  keys: readonly string[],
  val: string,
  seen: ReadonlyMap<string, Seen>,
  clients: number,
  opsPerClient: number,
): KvInput {
  const shuffled = r.shuffle([...keys]);
  const compare = shuffled.slice(0, 1 + r.int(keys.length)).map((key): TxnCompare => {
    const last = seen.get(key);
    if (last !== undefined && r.chance(0.5)) {
      return { key, target: "mod", expect: last.value, modRev: last.mod };
    }
    const expect = last !== undefined && r.chance(0.6)
      ? last.value
      : r.chance(0.3)
      ? null
      : `c${r.int(clients)}.${r.int(opsPerClient)}`;
    return { key, target: "value", expect };
  });
  const writes = r.shuffle([...keys]).slice(0, 2 + r.int(keys.length - 1)).map((key): TxnOp =>
    r.chance(0.15) ? { kind: "delete", key } : { kind: "put", key, value: val }
  );
  const reads = () => r.shuffle([...keys]).slice(0, 1 + r.int(keys.length)).map(getOp);
  if (r.chance(0.25)) {
    // a nested txn (etcd's RequestOp_RequestTxn): the writes behind a compare of their own,
    // judged like the outer ones on the state before the txn, then a read seeing them
    const key = r.pick(keys);
    const last = seen.get(key);
    const inner: TxnCompare = last !== undefined && r.chance(0.7)
      ? { key, target: "mod", expect: last.value, modRev: last.mod }
      : { key, target: "value", expect: r.chance(0.5) ? null : last?.value ?? null };
    return {
      kind: "txn",
      compare,
      then: [{ kind: "txn", compare: [inner], then: writes, else: reads() }, getOp(r.pick(keys))],
      else: r.chance(0.5) ? reads() : [{ kind: "txn", compare: [], then: reads(), else: [] }],
    };
  }
  return { kind: "txn", compare, then: writes, else: reads() };
}

/**
 * The planted bug `split-txn`: the txn's compares with the first op of each branch, then the
 * rest of the branch it took, one op per txn; answered as one txn (the first one's header).
 */
async function splitTxn(m: Member, t: Extract<KvInput, { kind: "txn" }>): Promise<pb.TxnResponse> {
  const kv = new KvServer(m);
  const first = await kv.txn(
    txnRequest({ ...t, then: t.then.slice(0, 1), else: t.else.slice(0, 1) }),
    NOBODY,
  );
  for (const o of (first.succeeded ? t.then : t.else).slice(1)) {
    const rest = await kv.txn(
      txnRequest({ compare: [], then: [o], else: [] }),
      NOBODY,
    );
    first.responses.push(...rest.responses);
  }
  return first;
}

/** The TxnRequest of a multi-key txn (nested ones within). */
function txnRequest(
  t: { compare: readonly TxnCompare[]; then: readonly TxnOp[]; else: readonly TxnOp[] },
): pb.TxnRequest {
  const op = (o: TxnOp): pb.RequestOp =>
    create(RequestOpSchema, {
      request: o.kind === "txn" ? { case: "requestTxn", value: txnRequest(o) } : o.kind === "put"
        ? {
          case: "requestPut",
          value: create(PutRequestSchema, { key: enc.encode(o.key), value: enc.encode(o.value) }),
        }
        : o.kind === "delete"
        ? {
          case: "requestDeleteRange",
          value: create(DeleteRangeRequestSchema, { key: enc.encode(o.key) }),
        }
        : {
          case: "requestRange",
          value: create(pb.RangeRequestSchema, { key: enc.encode(o.key) }),
        },
    });
  return create(TxnRequestSchema, {
    compare: t.compare.map((c) => compareOf(c)),
    success: t.then.map(op),
    failure: t.else.map(op),
  });
}

/** etcd's Compare for one of the model's (a null value expect: created at revision 0). */
function compareOf(c: TxnCompare) {
  const key = enc.encode(c.key);
  if (c.target === "mod") {
    return create(CompareSchema, {
      key,
      target: Compare_CompareTarget.MOD,
      result: Compare_CompareResult.EQUAL,
      targetUnion: { case: "modRevision", value: BigInt(c.modRev ?? 0) },
    });
  }
  return c.expect === null
    ? create(CompareSchema, {
      key,
      target: Compare_CompareTarget.CREATE,
      result: Compare_CompareResult.EQUAL,
      targetUnion: { case: "createRevision", value: 0n },
    })
    : create(CompareSchema, {
      key,
      target: Compare_CompareTarget.VALUE,
      result: Compare_CompareResult.EQUAL,
      targetUnion: { case: "value", value: enc.encode(c.expect) },
    });
}

/** A TxnResponse's results as the model's. */
function txnResults(res: pb.TxnResponse): TxnResult[] {
  return res.responses.map((r): TxnResult => {
    switch (r.response.case) {
      case "responsePut":
        return { kind: "put" };
      case "responseDeleteRange":
        return { kind: "delete", deleted: Number(r.response.value.deleted) };
      case "responseRange": {
        const kv = r.response.value.kvs[0];
        return { kind: "get", value: kv === undefined ? null : dec.decode(kv.value) };
      }
      case "responseTxn":
        return {
          kind: "txn",
          succeeded: r.response.value.succeeded,
          results: txnResults(r.response.value),
        };
      default:
        throw new Error(`unexpected txn response ${r.response.case}`);
    }
  });
}

function revOf(a: Applied): number {
  switch (a.kind) {
    case "put":
    case "delete":
    case "txn":
      return Number(a.r.header!.revision);
    default:
      throw new Error(`unexpected apply result ${a.kind}`);
  }
}

/** if value(key) == expect (absent: created at 0) then put key=value. */
function casTxn(key: string, expect: string | null, value: string) {
  const k = enc.encode(key);
  return create(TxnRequestSchema, {
    compare: [compareOf({ key, target: "value", expect })],
    success: [create(RequestOpSchema, {
      request: {
        case: "requestPut",
        value: create(PutRequestSchema, { key: k, value: enc.encode(value) }),
      },
    })],
  });
}
