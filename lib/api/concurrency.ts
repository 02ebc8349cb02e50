/**
 * What etcd's v3lock and v3election servers do through their in-process clientv3
 * (etcdserver/api/v3client): KV reads, txns, deletes, lease grants and watches made on behalf
 * of the calling client, with its credentials, through the member's normal paths (ReadIndex
 * reads, raft proposals, the WatchHub). On top of those, the waits of clientv3/concurrency
 * (key.go's waitDeletes) that both services share.
 */
import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { prefixEnd } from "../base/bytes.ts";
import { Errors, EtcdError, GrpcCode } from "../base/errors.ts";
import * as mv from "../mvcc/types.ts";
import type { WatchResponse } from "../mvcc/watch_types.ts";
import type { EtcdServer } from "../server/etcd_server.ts";
import type { Caller } from "../server/caller.ts";
import { callerOf } from "./request_auth.ts";

/** concurrency.Session's default TTL (seconds): the lease granted when a request names none. */
export const SESSION_TTL = 60;

const encoder = new TextEncoder();

/** Concatenates byte strings (keys are bytes: a name need not be UTF-8). */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** `name + "/"`: the prefix under which a mutex's or an election's candidates live. */
export function candidatePrefix(name: Uint8Array): Uint8Array {
  return concatBytes(name, encoder.encode("/"));
}

/** A candidate's key, `prefix + %x(lease)` as concurrency.Mutex and Election format it. */
export function candidateKey(prefix: Uint8Array, lease: bigint): Uint8Array {
  // Go's %x of an int64 is lowercase hex with a leading "-" when negative, as bigint's
  return concatBytes(prefix, encoder.encode(lease.toString(16)));
}

/**
 * Runs a v3lock/v3election handler body with etcd's error mapping: those servers return the
 * errors their clientv3 got back, which carry no gRPC status of their own, so gRPC sends every
 * one of them as Unknown with etcd's message (checked against etcd 3.4). `server stopped`
 * stays Unavailable: a stopping etcd ends these calls with its gRPC server, which clients see
 * as Unavailable and retry elsewhere.
 */
export async function asEtcdClientErrors<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof EtcdError && err.code !== GrpcCode.Unknown && !Errors.stopped.is(err)) {
      throw new EtcdError(GrpcCode.Unknown, err.message);
    }
    throw err;
  }
}

/** A txn compare: `createRevision(key) == rev`. */
export function createRevisionIs(key: Uint8Array, rev: number): pb.Compare {
  return create(pb.CompareSchema, {
    key,
    result: pb.Compare_CompareResult.EQUAL,
    target: pb.Compare_CompareTarget.CREATE,
    targetUnion: { case: "createRevision", value: BigInt(rev) },
  });
}

/** A txn put op. */
export function putOp(key: Uint8Array, value: Uint8Array, lease: bigint): pb.RequestOp {
  return create(pb.RequestOpSchema, {
    request: { case: "requestPut", value: { key, value, lease } },
  });
}

/** A txn get of one key. */
export function getOp(key: Uint8Array): pb.RequestOp {
  return create(pb.RequestOpSchema, { request: { case: "requestRange", value: { key } } });
}

/** A txn delete of one key. */
export function deleteOp(key: Uint8Array): pb.RequestOp {
  return create(pb.RequestOpSchema, { request: { case: "requestDeleteRange", value: { key } } });
}

/**
 * A txn get of the first-created key under `prefix` (clientv3's `WithFirstCreate`: prefix,
 * sorted by create revision ascending, limit 1): the lock's owner, the election's leader.
 */
export function firstCreatedOp(prefix: Uint8Array): pb.RequestOp {
  return create(pb.RequestOpSchema, {
    request: {
      case: "requestRange",
      value: {
        key: prefix,
        rangeEnd: prefixEnd(prefix),
        limit: 1n,
        sortOrder: pb.RangeRequest_SortOrder.ASCEND,
        sortTarget: pb.RangeRequest_SortTarget.CREATE,
      },
    },
  });
}

/** The range result of a txn's `i`th response (a get op's). */
export function rangeResult(t: mv.TxnResponse, i: number): mv.RangeResponse {
  const r = t.responses[i];
  if (r?.case !== "responseRange") throw new Error(`txn response ${i} is not a range`);
  return r.value;
}

/** The error for a request whose client went away while it waited. */
function canceled(): DOMException {
  return new DOMException("context canceled", "AbortError");
}

/**
 * The server as seen by one client request, as etcd's v3client sees it: every call goes
 * through the server façade with the caller's credentials, resolved again for each call as
 * etcd resolves them per request (so a wait that outlives a change of users or roles goes on
 * under the current rules), validated and checked there as the KV and Lease services are.
 * Waits end when the request's signal aborts (the client left) or the member stops.
 */
export class InProcessClient {
  readonly server: EtcdServer;
  readonly #ctx: HandlerContext;
  readonly #caller: Caller;

  constructor(server: EtcdServer, ctx: HandlerContext) {
    this.server = server;
    this.#ctx = ctx;
    this.#caller = callerOf(ctx);
  }

  /** Aborts when the client leaves. */
  get signal(): AbortSignal {
    return this.#ctx.signal;
  }

  /** A linearizable range (clientv3's default Get). */
  range(r: mv.RangeRequest): Promise<mv.RangeResponse> {
    return this.server.kv.readRange(r, this.#caller);
  }

  /** The first-created key under `prefix` (WithFirstCreate), with the read's revision. */
  firstCreated(prefix: Uint8Array): Promise<mv.RangeResponse> {
    return this.range({
      key: prefix,
      rangeEnd: prefixEnd(prefix),
      limit: 1,
      sortOrder: mv.SortOrder.ASCEND,
      sortTarget: mv.SortTarget.CREATE,
    });
  }

  /** A txn through raft, validated, authorized and quota-checked as KV.Txn does. */
  txn(
    init: { compare: pb.Compare[]; success: pb.RequestOp[]; failure?: pb.RequestOp[] },
  ): Promise<mv.TxnResponse> {
    return this.server.kv.proposeTxn(create(pb.TxnRequestSchema, init), this.#caller);
  }

  /** Deletes one key through raft, as KV.DeleteRange does; resolves with the revision. */
  async deleteKey(key: Uint8Array): Promise<number> {
    const req = create(pb.DeleteRangeRequestSchema, { key });
    return (await this.server.kv.proposeDelete(req, this.#caller)).header.revision;
  }

  /** Grants a new lease, as concurrency.NewSession does when given none. */
  async grantLease(ttl: number): Promise<bigint> {
    const req = create(pb.LeaseGrantRequestSchema, { TTL: BigInt(ttl) });
    return (await this.server.lease.grant(req, this.#caller)).ID;
  }

  /**
   * Watches `[key, rangeEnd)` from `startRevision`, yielding the responses that carry events.
   * Throws etcd's error when the watch is canceled (compacted start), `context canceled` when
   * the client leaves, and `server stopped` when the member closes its watch hub. The watch is
   * closed when the caller stops iterating.
   */
  async *watch(
    key: Uint8Array,
    rangeEnd: Uint8Array | undefined,
    startRevision: number,
  ): AsyncGenerator<WatchResponse> {
    await this.server.watch.checkRead(this.#caller, key, rangeEnd ?? new Uint8Array(0));
    if (this.signal.aborted) throw canceled();
    const stream = this.server.watch.open({ bufferSize: 16 });
    const onAbort = () => stream.close();
    this.signal.addEventListener("abort", onAbort);
    try {
      stream.watch({ key, rangeEnd, startRevision });
      for await (const r of stream) {
        if (r.canceled) {
          throw r.compactRevision > 0 ? Errors.compacted() : Errors.watchCanceled();
        }
        if (r.events.length > 0) yield r;
      }
      throw this.signal.aborted ? canceled() : Errors.stopped();
    } finally {
      this.signal.removeEventListener("abort", onAbort);
      stream.close();
    }
  }

  /** concurrency's waitDelete: returns once `key` is deleted at or after `revision`. */
  async waitDelete(key: Uint8Array, revision: number): Promise<void> {
    for await (const r of this.watch(key, undefined, revision)) {
      if (r.events.some((e) => e.type === mv.EventType.DELETE)) return;
    }
  }

  /**
   * concurrency's waitDeletes: waits until no key under `prefix` has a create revision at or
   * below `maxCreateRev`, watching the newest such key each round (so each waiter wakes only
   * for its predecessor). Resolves with the revision of the last read.
   */
  async waitDeletes(prefix: Uint8Array, maxCreateRev: number): Promise<number> {
    for (;;) {
      const r = await this.range({
        key: prefix,
        rangeEnd: prefixEnd(prefix),
        limit: 1,
        sortOrder: mv.SortOrder.DESCEND,
        sortTarget: mv.SortTarget.CREATE,
        maxCreateRevision: maxCreateRev,
      });
      if (r.kvs.length === 0) return r.header.revision;
      await this.waitDelete(r.kvs[0].key, r.header.revision);
    }
  }
}
