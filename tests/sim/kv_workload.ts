/**
 * The KV clients of a whole-cluster run: each issues puts, linearizable gets (ReadIndex, then
 * the local store), serializable gets (the local store), deletes and compare-and-swap txns
 * through a random member, gives up after the run's client timeout, and backs off when
 * unanswered. What they did is recorded for the checkers: the history (a write that failed
 * or timed out keeps an unknown outcome; a failed read is dropped), the revision each answer
 * carried, and the serializable reads.
 */
import { create } from "@bufbuild/protobuf";
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
import type { KvInput, KvOp, KvOutput } from "./kv_history.ts";
import type { AckedRevisions, SerialRead } from "./cluster_history.ts";
import type { RunContext } from "./run_context.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Keys the clients pick from (few, so their operations contend). */
const KEYS = 5;

/** How the clients run. */
export interface KvClientsOptions {
  clients: number;
  opsPerClient: number;
  /** `stale-read`: linearizable gets served without ReadIndex (a planted bug). */
  bug?: "stale-read";
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
  async #op(client: number, m: Member, input: KvInput): Promise<boolean> {
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
    const key = enc.encode(input.key);
    let p: Promise<{ out: KvOutput; rev: number }>;
    switch (input.kind) {
      case "put":
        p = m.propose({
          kind: RequestKind.Put,
          req: create(PutRequestSchema, { key, value: enc.encode(input.value) }),
        })
          .then((a) => ({ out: { kind: "put" }, rev: revOf(a) }));
        break;
      case "delete":
        p = m.propose({
          kind: RequestKind.DeleteRange,
          req: create(DeleteRangeRequestSchema, { key }),
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
          return {
            out: { kind: "get", value: kv === undefined ? null : dec.decode(kv.value) },
            rev: res.rev,
          };
        });
        break;
      }
    }
    const got = await ctx.within(p);
    if (got !== "timeout" && "v" in got) {
      op.ret = ctx.tick();
      op.retMs = ctx.c.clock.now();
      op.output = got.v.out;
      this.revisions.set(op.id, got.v.rev);
      return true;
    }
    if (input.kind === "get") this.failedReads.add(op.id); // a failed read changed nothing
    // a write that failed or timed out stays with an unknown outcome: it may yet apply
    return false;
  }

  async #client(id: number, n: number): Promise<void> {
    const ctx = this.#ctx;
    const r = ctx.r;
    for (let k = 0; k < n; k++) {
      const i = r.int(ctx.c.members.length);
      const m = this.#o.removed(i) ? null : ctx.c.members[i];
      if (m === null) {
        await ctx.sleep(5 + r.int(20)); // connection refused: try another member
        continue;
      }
      const key = `k${r.int(KEYS)}`;
      const val = `c${id}.${k}`;
      const pick = r.int(10);
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
        const res = m.store.range({ key, end: undefined });
        const kv = res.kvs[0];
        this.serial.push({
          client: id,
          member: i,
          incarnation: this.#o.incarnation(i),
          key,
          value: kv === undefined ? null : dec.decode(kv.value),
          rev: res.rev,
          atMs: ctx.c.clock.now(),
        });
      } else {
        const input: KvInput = pick < 5
          ? { kind: "put", key, value: val }
          : pick < 8
          ? { kind: "get", key }
          : pick < 9
          ? { kind: "delete", key }
          : {
            kind: "cas",
            key,
            expect: r.chance(0.3) ? null : `c${r.int(this.#o.clients)}.${r.int(n)}`,
            value: val,
          };
        if (!await this.#op(id, m, input)) await ctx.sleep(50 + r.int(100));
      }
      await ctx.sleep(r.int(15));
    }
  }
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
  const compare = expect === null
    ? create(CompareSchema, {
      key: k,
      target: Compare_CompareTarget.CREATE,
      result: Compare_CompareResult.EQUAL,
      targetUnion: { case: "createRevision", value: 0n },
    })
    : create(CompareSchema, {
      key: k,
      target: Compare_CompareTarget.VALUE,
      result: Compare_CompareResult.EQUAL,
      targetUnion: { case: "value", value: enc.encode(expect) },
    });
  return create(TxnRequestSchema, {
    compare: [compare],
    success: [create(RequestOpSchema, {
      request: {
        case: "requestPut",
        value: create(PutRequestSchema, { key: k, value: enc.encode(value) }),
      },
    })],
  });
}
