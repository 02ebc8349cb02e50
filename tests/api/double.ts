/**
 * A test double of the server's services for API tests only: a single-member, in-memory
 * keyspace with etcd's revision numbering (the first write is revision 2), enough of KV,
 * Watch, Lease, Cluster and Maintenance for real clients (etcdctl, grpc-js, Connect, curl)
 * to exercise every protocol path. It is not the store; lib/ never serves it.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { Errors } from "../../lib/base/errors.ts";
import type { EtcdServices } from "../../lib/api/services.ts";
import {
  type Compare,
  Compare_CompareResult,
  Compare_CompareTarget,
  type DeleteRangeRequest,
  type PutRequest,
  type RangeRequest,
  type ResponseHeader,
  ResponseHeaderSchema,
  type ResponseOp,
  type TxnRequest,
  type WatchRequest,
  WatchResponseSchema,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import {
  type Event,
  Event_EventType,
  type KeyValue,
  KeyValueSchema,
} from "../../proto/gen/mvccpb/kv_pb.ts";

const CLUSTER_ID = 0xd1cf5e5a1234abcdn;
const MEMBER_ID = 0xbdae1b7d0a5c3f11n;

function cmp(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function inRange(key: Uint8Array, start: Uint8Array, end: Uint8Array): boolean {
  if (end.length === 0) return cmp(key, start) === 0;
  if (end.length === 1 && end[0] === 0) return cmp(key, start) >= 0;
  return cmp(key, start) >= 0 && cmp(key, end) < 0;
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** A simple unbounded async queue for streaming responses. */
class Queue<T> {
  #items: T[] = [];
  #wake: (() => void) | undefined;
  #closed = false;
  push(v: T): void {
    this.#items.push(v);
    this.#wake?.();
  }
  close(): void {
    this.#closed = true;
    this.#wake?.();
  }
  #error: unknown = undefined;
  /** Ends the stream with `err` after what is queued, as a failed receive ends etcd's. */
  fail(err: unknown): void {
    this.#error = err;
    this.close();
  }
  async *drain(signal: AbortSignal): AsyncGenerator<T> {
    const onAbort = () => this.close();
    signal.addEventListener("abort", onAbort);
    try {
      while (true) {
        if (this.#items.length > 0) {
          yield this.#items.shift() as T;
          continue;
        }
        if (this.#error !== undefined) throw this.#error;
        if (this.#closed || signal.aborted) return;
        await new Promise<void>((r) => (this.#wake = r));
        this.#wake = undefined;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }
}

/** The in-memory double; `services()` gives the implementations to hand to the API. */
export class FakeEtcd {
  readonly kvs = new Map<string, KeyValue>();
  readonly leases = new Map<bigint, { ttl: bigint }>();
  readonly #watchers = new Set<(events: Event[], rev: number) => void>();
  revision = 1;
  #nextLease = 0x694d7c3e2a1b0001n;
  /** Requests seen, by method, for assertions. */
  readonly calls: string[] = [];

  header(): ResponseHeader {
    return create(ResponseHeaderSchema, {
      clusterId: CLUSTER_ID,
      memberId: MEMBER_ID,
      revision: BigInt(this.revision),
      raftTerm: 2n,
    });
  }

  #range(r: RangeRequest) {
    if (r.revision > BigInt(this.revision)) throw Errors.futureRev();
    const kvs = [...this.kvs.values()].filter((kv) => inRange(kv.key, r.key, r.rangeEnd))
      .sort((a, b) => cmp(a.key, b.key));
    const count = BigInt(kvs.length);
    const limited = r.limit > 0n ? kvs.slice(0, Number(r.limit)) : kvs;
    return {
      header: this.header(),
      kvs: r.countOnly
        ? []
        : limited.map((kv) => (r.keysOnly ? { ...kv, value: new Uint8Array() } : kv)),
      more: limited.length < kvs.length,
      count,
    };
  }

  #put(r: PutRequest, rev: number, events: Event[]) {
    if (r.key.length === 0) throw Errors.emptyKey();
    if (r.lease !== 0n && !this.leases.has(r.lease)) throw Errors.leaseNotFound();
    const k = hex(r.key);
    const prev = this.kvs.get(k);
    const kv = create(KeyValueSchema, {
      key: r.key,
      value: r.value,
      lease: r.lease,
      createRevision: prev ? prev.createRevision : BigInt(rev),
      modRevision: BigInt(rev),
      version: prev ? prev.version + 1n : 1n,
    });
    this.kvs.set(k, kv);
    events.push({ $typeName: "mvccpb.Event", type: Event_EventType.PUT, kv, prevKv: prev });
    return { header: this.header(), prevKv: r.prevKv ? prev : undefined };
  }

  #delete(r: DeleteRangeRequest, rev: number, events: Event[]) {
    const gone = [...this.kvs.entries()].filter(([, kv]) => inRange(kv.key, r.key, r.rangeEnd));
    for (const [k, kv] of gone) {
      this.kvs.delete(k);
      const tomb = create(KeyValueSchema, { key: kv.key, modRevision: BigInt(rev) });
      events.push({
        $typeName: "mvccpb.Event",
        type: Event_EventType.DELETE,
        kv: tomb,
        prevKv: kv,
      });
    }
    return {
      header: this.header(),
      deleted: BigInt(gone.length),
      prevKvs: r.prevKv ? gone.map(([, kv]) => kv) : [],
    };
  }

  #compare(c: Compare): boolean {
    const kv = this.kvs.get(hex(c.key));
    let diff: number;
    switch (c.target) {
      case Compare_CompareTarget.VALUE:
        diff = cmp(
          kv?.value ?? new Uint8Array(),
          c.targetUnion.case === "value" ? c.targetUnion.value : new Uint8Array(),
        );
        break;
      case Compare_CompareTarget.VERSION:
        diff = Number(
          (kv?.version ?? 0n) - (c.targetUnion.case === "version" ? c.targetUnion.value : 0n),
        );
        break;
      case Compare_CompareTarget.MOD:
        diff = Number(
          (kv?.modRevision ?? 0n) -
            (c.targetUnion.case === "modRevision" ? c.targetUnion.value : 0n),
        );
        break;
      case Compare_CompareTarget.CREATE:
        diff = Number(
          (kv?.createRevision ?? 0n) -
            (c.targetUnion.case === "createRevision" ? c.targetUnion.value : 0n),
        );
        break;
      default:
        diff = Number(
          (kv?.lease ?? 0n) - (c.targetUnion.case === "lease" ? c.targetUnion.value : 0n),
        );
    }
    switch (c.result) {
      case Compare_CompareResult.EQUAL:
        return diff === 0;
      case Compare_CompareResult.GREATER:
        return diff > 0;
      case Compare_CompareResult.LESS:
        return diff < 0;
      default:
        return diff !== 0;
    }
  }

  #txn(r: TxnRequest, rev: number, events: Event[]) {
    const ok = r.compare.every((c) => this.#compare(c));
    const responses: Omit<ResponseOp, "$typeName">[] = [];
    for (const op of ok ? r.success : r.failure) {
      const req = op.request;
      if (req.case === "requestRange") {
        const res = this.#range(req.value);
        responses.push({
          response: {
            case: "responseRange",
            value: { ...res, header: { revision: BigInt(this.revision) } } as never,
          },
        });
      } else if (req.case === "requestPut") {
        this.#put(req.value, rev, events);
        responses.push({
          response: { case: "responsePut", value: { header: { revision: BigInt(rev) } } as never },
        });
      } else if (req.case === "requestDeleteRange") {
        const res = this.#delete(req.value, rev, events);
        responses.push({
          response: {
            case: "responseDeleteRange",
            value: { ...res, header: { revision: BigInt(rev) } } as never,
          },
        });
      }
    }
    return { succeeded: ok, responses };
  }

  /** Runs one write: a new revision when anything changed, then watchers hear of it. */
  #write<T>(fn: (rev: number, events: Event[]) => T): T {
    const events: Event[] = [];
    const out = fn(this.revision + 1, events);
    if (events.length > 0) {
      this.revision++;
      for (const w of this.#watchers) w(events, this.revision);
    }
    return out;
  }

  /** Watchers currently registered (for tests that must wait for a client's watch). */
  watcherCount(): number {
    return this.#watchers.size;
  }

  services(): Partial<EtcdServices> {
    return {
      kv: {
        range: (r) => {
          this.calls.push("Range");
          return this.#range(r);
        },
        put: (r) => {
          this.calls.push("Put");
          const res = this.#write((rev, ev) => this.#put(r, rev, ev));
          return { ...res, header: this.header() };
        },
        deleteRange: (r) => {
          this.calls.push("DeleteRange");
          const res = this.#write((rev, ev) => this.#delete(r, rev, ev));
          return { ...res, header: this.header() };
        },
        txn: (r) => {
          this.calls.push("Txn");
          const res = this.#write((rev, ev) => this.#txn(r, rev, ev));
          return { ...res, header: this.header() };
        },
      },
      watch: { watch: (reqs, ctx) => this.#watch(reqs, ctx) },
      lease: {
        leaseGrant: (r) => {
          const id = r.ID !== 0n ? r.ID : this.#nextLease++;
          if (this.leases.has(id)) throw Errors.leaseExist();
          this.leases.set(id, { ttl: r.TTL });
          return { header: this.header(), ID: id, TTL: r.TTL };
        },
        leaseRevoke: (r) => {
          if (!this.leases.delete(r.ID)) throw Errors.leaseNotFound();
          return { header: this.header() };
        },
        leaseKeepAlive: async function* (this: FakeEtcd, reqs: AsyncIterable<{ ID: bigint }>) {
          for await (const r of reqs) {
            const l = this.leases.get(r.ID);
            yield { header: this.header(), ID: r.ID, TTL: l ? l.ttl : 0n };
          }
        }.bind(this),
      },
      cluster: {
        memberList: () => ({
          header: this.header(),
          members: [{
            ID: MEMBER_ID,
            name: "default",
            peerURLs: ["http://127.0.0.1:2380"],
            clientURLs: [],
          }],
        }),
      },
      maintenance: {
        status: () => ({
          header: this.header(),
          version: "3.5.0",
          dbSize: 20480n,
          leader: MEMBER_ID,
          raftIndex: 10n,
          raftTerm: 2n,
          raftAppliedIndex: 10n,
          dbSizeInUse: 16384n,
        }),
        snapshot: async function* (this: FakeEtcd) {
          const blob = new TextEncoder().encode("snapshot-bytes");
          yield {
            header: this.header(),
            remainingBytes: BigInt(blob.length),
            blob: new Uint8Array(),
          };
          yield { remainingBytes: 0n, blob };
        }.bind(this),
      },
    };
  }

  async *#watch(
    reqs: AsyncIterable<WatchRequest>,
    ctx: HandlerContext,
  ): AsyncGenerator<MessageInitShape<typeof WatchResponseSchema>> {
    const out = new Queue<MessageInitShape<typeof WatchResponseSchema>>();
    const mine: ((events: Event[], rev: number) => void)[] = [];
    let nextId = 0n;
    // Like etcd, the stream stays open after the client stops sending, until it goes away.
    (async () => {
      for await (const r of reqs) {
        if (r.requestUnion.case === "createRequest") {
          const c = r.requestUnion.value;
          const id = c.watchId !== 0n ? c.watchId : nextId++;
          out.push({ header: this.header(), watchId: id, created: true });
          const w = (events: Event[], rev: number) => {
            const mineEv = events.filter((e) => e.kv && inRange(e.kv.key, c.key, c.rangeEnd));
            if (mineEv.length > 0) {
              out.push({
                header: { ...this.header(), revision: BigInt(rev) },
                watchId: id,
                events: mineEv,
              });
            }
          };
          mine.push(w);
          this.#watchers.add(w);
        }
      }
    })().catch((err) => out.fail(err));
    try {
      yield* out.drain(ctx.signal);
    } finally {
      for (const w of mine) this.#watchers.delete(w);
    }
  }
}
