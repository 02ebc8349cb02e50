/** The etcd v3 protobuf-es messages made from, and read into, lib/mvcc's types (tests only). */
import { create } from "@bufbuild/protobuf";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { KeyValue as PbKeyValue } from "../../proto/gen/mvccpb/kv_pb.ts";
import {
  type Compare,
  CompareTarget,
  type DeleteRangeRequest,
  type KeyValue,
  type PutRequest,
  type RangeRequest,
  type RequestOp,
  type ResponseOp,
  type TxnRequest,
} from "../../lib/mvcc/types.ts";

export const b = (n: number | undefined) => BigInt(n ?? 0);

export function pbRange(r: RangeRequest): pb.RangeRequest {
  return create(pb.RangeRequestSchema, {
    key: r.key,
    rangeEnd: r.rangeEnd,
    limit: b(r.limit),
    revision: b(r.revision),
    sortOrder: (r.sortOrder ?? 0) as number as pb.RangeRequest_SortOrder,
    sortTarget: (r.sortTarget ?? 0) as number as pb.RangeRequest_SortTarget,
    keysOnly: r.keysOnly,
    countOnly: r.countOnly,
    minModRevision: b(r.minModRevision),
    maxModRevision: b(r.maxModRevision),
    minCreateRevision: b(r.minCreateRevision),
    maxCreateRevision: b(r.maxCreateRevision),
  });
}

export function pbPut(p: PutRequest): pb.PutRequest {
  return create(pb.PutRequestSchema, {
    key: p.key,
    value: p.value,
    lease: p.lease ?? 0n,
    prevKv: p.prevKv,
    ignoreValue: p.ignoreValue,
    ignoreLease: p.ignoreLease,
  });
}

export function pbDelete(d: DeleteRangeRequest): pb.DeleteRangeRequest {
  return create(pb.DeleteRangeRequestSchema, {
    key: d.key,
    rangeEnd: d.rangeEnd,
    prevKv: d.prevKv,
  });
}

export function pbCompare(c: Compare): pb.Compare {
  let targetUnion: pb.Compare["targetUnion"] = { case: undefined };
  switch (c.target) {
    case CompareTarget.VERSION:
      if (c.version !== undefined) targetUnion = { case: "version", value: b(c.version) };
      break;
    case CompareTarget.CREATE:
      if (c.createRevision !== undefined) {
        targetUnion = { case: "createRevision", value: b(c.createRevision) };
      }
      break;
    case CompareTarget.MOD:
      if (c.modRevision !== undefined) {
        targetUnion = { case: "modRevision", value: b(c.modRevision) };
      }
      break;
    case CompareTarget.VALUE:
      if (c.value !== undefined) targetUnion = { case: "value", value: c.value };
      break;
    case CompareTarget.LEASE:
      if (c.lease !== undefined) targetUnion = { case: "lease", value: c.lease };
      break;
  }
  return create(pb.CompareSchema, {
    key: c.key,
    rangeEnd: c.rangeEnd,
    result: c.result as number as pb.Compare_CompareResult,
    target: c.target as number as pb.Compare_CompareTarget,
    targetUnion,
  });
}

export function pbOp(o: RequestOp): pb.RequestOp {
  switch (o.case) {
    case "requestRange":
      return create(pb.RequestOpSchema, { request: { case: o.case, value: pbRange(o.value) } });
    case "requestPut":
      return create(pb.RequestOpSchema, { request: { case: o.case, value: pbPut(o.value) } });
    case "requestDeleteRange":
      return create(pb.RequestOpSchema, { request: { case: o.case, value: pbDelete(o.value) } });
    case "requestTxn":
      return create(pb.RequestOpSchema, { request: { case: o.case, value: pbTxn(o.value) } });
  }
}

export function pbTxn(t: TxnRequest): pb.TxnRequest {
  return create(pb.TxnRequestSchema, {
    compare: (t.compare ?? []).map(pbCompare),
    success: (t.success ?? []).map(pbOp),
    failure: (t.failure ?? []).map(pbOp),
  });
}

export function kvOf(kv: PbKeyValue): KeyValue {
  return {
    key: kv.key,
    createRevision: Number(kv.createRevision),
    modRevision: Number(kv.modRevision),
    version: Number(kv.version),
    value: kv.value,
    lease: kv.lease,
  };
}

export const hdr = (h: pb.ResponseHeader | undefined) => ({ revision: Number(h?.revision ?? 0n) });

export function rangeOf(r: pb.RangeResponse) {
  return { header: hdr(r.header), kvs: r.kvs.map(kvOf), more: r.more, count: Number(r.count) };
}

export function putOf(r: pb.PutResponse) {
  return r.prevKv ? { header: hdr(r.header), prevKv: kvOf(r.prevKv) } : { header: hdr(r.header) };
}

export function deleteOf(r: pb.DeleteRangeResponse) {
  return { header: hdr(r.header), deleted: Number(r.deleted), prevKvs: r.prevKvs.map(kvOf) };
}

export function txnOf(
  r: pb.TxnResponse,
): { header: { revision: number }; succeeded: boolean; responses: ResponseOp[] } {
  return {
    header: hdr(r.header),
    succeeded: r.succeeded,
    responses: r.responses.map((o): ResponseOp => {
      switch (o.response.case) {
        case "responseRange":
          return { case: "responseRange", value: rangeOf(o.response.value) };
        case "responsePut":
          return { case: "responsePut", value: putOf(o.response.value) };
        case "responseDeleteRange":
          return { case: "responseDeleteRange", value: deleteOf(o.response.value) };
        case "responseTxn":
          return { case: "responseTxn", value: txnOf(o.response.value) };
        default:
          throw new Error("empty ResponseOp from etcd");
      }
    }),
  };
}
