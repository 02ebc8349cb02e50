/**
 * Mapping between etcd's protobuf messages (proto/gen) and the logic layer's plain types
 * (lib/mvcc/types.ts). Counters cross here: int64 fields arrive as bigint and become numbers
 * that compare as etcd's int64 do (`saturateInt64`: -1 and 2^63-1 get etcd's answers, not a
 * refusal), and go back out as bigint.
 */
import { create } from "@bufbuild/protobuf";
import { MAX_COUNTER, saturateInt64 } from "../base/types.ts";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import {
  EventSchema,
  type KeyValue as PbKeyValue,
  KeyValueSchema,
} from "../../proto/gen/mvccpb/kv_pb.ts";
import type * as m from "../mvcc/types.ts";
import type { WatchResponse } from "../mvcc/watch_types.ts";

const EMPTY = new Uint8Array(0);

/** A proto RangeRequest as the store's. */
export function rangeFromPb(r: pb.RangeRequest): m.RangeRequest {
  return {
    key: r.key,
    rangeEnd: r.rangeEnd,
    limit: saturateInt64(r.limit),
    revision: saturateInt64(r.revision),
    sortOrder: r.sortOrder as number as m.SortOrder,
    sortTarget: r.sortTarget as number as m.SortTarget,
    keysOnly: r.keysOnly,
    countOnly: r.countOnly,
    minModRevision: saturateInt64(r.minModRevision),
    maxModRevision: saturateInt64(r.maxModRevision),
    minCreateRevision: saturateInt64(r.minCreateRevision),
    maxCreateRevision: saturateInt64(r.maxCreateRevision),
  };
}

/** A proto PutRequest as the store's. */
export function putFromPb(r: pb.PutRequest): m.PutRequest {
  return {
    key: r.key,
    value: r.value,
    lease: r.lease,
    prevKv: r.prevKv,
    ignoreValue: r.ignoreValue,
    ignoreLease: r.ignoreLease,
  };
}

/** A proto DeleteRangeRequest as the store's. */
export function deleteFromPb(r: pb.DeleteRangeRequest): m.DeleteRangeRequest {
  return { key: r.key, rangeEnd: r.rangeEnd, prevKv: r.prevKv };
}

function compareFromPb(c: pb.Compare): m.Compare {
  const out: m.Compare = {
    result: c.result as number as m.CompareResult,
    target: c.target as number as m.CompareTarget,
    key: c.key,
    rangeEnd: c.rangeEnd,
  };
  const u = c.targetUnion;
  switch (u.case) {
    case "version":
      out.version = saturateInt64(u.value);
      break;
    case "createRevision":
      out.createRevision = saturateInt64(u.value);
      break;
    case "modRevision":
      out.modRevision = saturateInt64(u.value);
      break;
    case "value":
      out.value = u.value;
      break;
    case "lease":
      out.lease = u.value;
      break;
  }
  return out;
}

function opFromPb(op: pb.RequestOp): m.RequestOp {
  const r = op.request;
  switch (r.case) {
    case "requestRange":
      return { case: "requestRange", value: rangeFromPb(r.value) };
    case "requestPut":
      return { case: "requestPut", value: putFromPb(r.value) };
    case "requestDeleteRange":
      return { case: "requestDeleteRange", value: deleteFromPb(r.value) };
    case "requestTxn":
      return { case: "requestTxn", value: txnFromPb(r.value) };
    default:
      // etcd treats an empty RequestOp as an empty range
      return { case: "requestRange", value: { key: EMPTY } };
  }
}

/** A proto CompactionRequest as the store's compaction: beyond the counters, etcd's errors. */
export function compactionFromPb(r: pb.CompactionRequest): { revision: number; physical: boolean } {
  return { revision: saturateInt64(r.revision), physical: r.physical };
}

/**
 * A lease grant's TTL: etcd lets any negative TTL through (the lessor raises it to the
 * minimum); the service refuses one above MAX_LEASE_TTL before proposing.
 */
export function leaseTtlFromPb(ttl: bigint): number {
  return saturateInt64(ttl);
}

/** A proto TxnRequest as the store's. */
export function txnFromPb(r: pb.TxnRequest): m.TxnRequest {
  return {
    compare: r.compare.map(compareFromPb),
    success: r.success.map(opFromPb),
    failure: r.failure.map(opFromPb),
  };
}

/** The store's KeyValue as the proto one. */
export function kvToPb(kv: m.KeyValue): PbKeyValue {
  return create(KeyValueSchema, {
    key: kv.key,
    createRevision: BigInt(kv.createRevision),
    modRevision: BigInt(kv.modRevision),
    version: BigInt(kv.version),
    value: kv.value,
    lease: kv.lease,
  });
}

/** Builds a full response header from the store's revision. */
export type HeaderFn = (revision: number) => pb.ResponseHeader;

/** The store's RangeResponse as the proto one. */
export function rangeToPb(r: m.RangeResponse, header: HeaderFn): pb.RangeResponse {
  return create(pb.RangeResponseSchema, {
    header: header(r.header.revision),
    kvs: r.kvs.map(kvToPb),
    more: r.more,
    count: BigInt(r.count),
  });
}

/** The store's PutResponse as the proto one. */
export function putToPb(r: m.PutResponse, header: HeaderFn): pb.PutResponse {
  return create(pb.PutResponseSchema, {
    header: header(r.header.revision),
    prevKv: r.prevKv ? kvToPb(r.prevKv) : undefined,
  });
}

/** The store's DeleteRangeResponse as the proto one. */
export function deleteToPb(r: m.DeleteRangeResponse, header: HeaderFn): pb.DeleteRangeResponse {
  return create(pb.DeleteRangeResponseSchema, {
    header: header(r.header.revision),
    deleted: BigInt(r.deleted),
    prevKvs: r.prevKvs.map(kvToPb),
  });
}

function opToPb(op: m.ResponseOp, header: HeaderFn): pb.ResponseOp {
  switch (op.case) {
    case "responseRange":
      return create(pb.ResponseOpSchema, {
        response: { case: "responseRange", value: rangeToPb(op.value, header) },
      });
    case "responsePut":
      return create(pb.ResponseOpSchema, {
        response: { case: "responsePut", value: putToPb(op.value, header) },
      });
    case "responseDeleteRange":
      return create(pb.ResponseOpSchema, {
        response: { case: "responseDeleteRange", value: deleteToPb(op.value, header) },
      });
    case "responseTxn":
      return create(pb.ResponseOpSchema, {
        response: { case: "responseTxn", value: txnToPb(op.value, header) },
      });
  }
}

function revisionOnly(revision: number): pb.ResponseHeader {
  return create(pb.ResponseHeaderSchema, { revision: BigInt(revision) });
}

/** The store's TxnResponse as the proto one. */
export function txnToPb(r: m.TxnResponse, header: HeaderFn): pb.TxnResponse {
  return create(pb.TxnResponseSchema, {
    header: header(r.header.revision),
    succeeded: r.succeeded,
    // etcd fills the ids and term only in the outer header; nested ones carry the revision
    responses: r.responses.map((op) => opToPb(op, revisionOnly)),
  });
}

/**
 * Watch ids of one stream between the wire (any int64 a client chooses, as etcd accepts) and
 * the watch hub (numbers). Ids in 1..2^53-1 are themselves; 0 asks for one; any other id
 * (negative, or beyond 2^53-1) gets a stand-in k + 0.5, which no integer id can collide with.
 */
export class WatchIds {
  readonly #toHub = new Map<bigint, number>();
  readonly #toWire = new Map<number, bigint>();
  #next = 0;

  /** The hub id for a create request's `id` (a stand-in is made when needed). */
  forCreate(id: bigint): number {
    if (id >= 0n && id <= BigInt(MAX_COUNTER)) return Number(id);
    let hub = this.#toHub.get(id);
    if (hub === undefined) {
      hub = this.#next++ + 0.5;
      this.#toHub.set(id, hub);
      this.#toWire.set(hub, id);
    }
    return hub;
  }

  /** The hub id a cancel request names, or undefined when no watch can have it. */
  forCancel(id: bigint): number | undefined {
    if (id >= 0n && id <= BigInt(MAX_COUNTER)) return Number(id);
    return this.#toHub.get(id);
  }

  /** The wire id of a hub id (-1, the stream-wide and refused id, is itself). */
  toWire(hub: number): bigint {
    return this.#toWire.get(hub) ?? BigInt(hub);
  }
}

/** A hub response as etcd's WatchResponse with `header`, its watch id mapped by `ids`. */
export function watchResponseToPb(
  r: WatchResponse,
  header: pb.ResponseHeader,
  ids: WatchIds,
): pb.WatchResponse {
  return create(pb.WatchResponseSchema, {
    header,
    watchId: ids.toWire(r.watchId),
    created: r.created,
    canceled: r.canceled,
    compactRevision: BigInt(r.compactRevision),
    cancelReason: r.cancelReason,
    fragment: r.fragment,
    events: r.events.map((e) =>
      create(EventSchema, {
        type: e.type as number,
        kv: kvToPb(e.kv),
        prevKv: e.prevKv ? kvToPb(e.prevKv) : undefined,
      })
    ),
  });
}
