/**
 * etcd's KV service over a member: Range served locally (after a shared ReadIndex round
 * unless serializable), writes validated as etcd validates them and then proposed through
 * raft, each answered once its entry is applied.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { KV } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { create } from "@bufbuild/protobuf";
import { applyRange, applyTxn } from "../mvcc/applier.ts";
import { checkDeleteRange, checkPut, checkRange, checkTxn } from "../mvcc/validate.ts";
import { checkRangeStream, openRangeStream } from "../mvcc/range_stream.ts";
import type { Member } from "../server/member.ts";
import { RequestKind } from "../server/request.ts";
import { costPut, costTxn } from "../server/quota.ts";
import { authInfo } from "./request_auth.ts";
import { checkDeleteAuth, checkPutAuth, checkTxnAuth, requestAuth } from "../server/auth_check.ts";
import {
  deleteFromPb,
  deleteToPb,
  kvToPb,
  putFromPb,
  putToPb,
  rangeFromPb,
  rangeToPb,
  txnFromPb,
  txnToPb,
} from "../server/convert.ts";

function ops(r: pb.TxnRequest): pb.RequestOp[] {
  return [...r.success, ...r.failure];
}

/** True when no branch of the txn (nested ones included) writes. */
function isReadOnly(r: pb.TxnRequest): boolean {
  return ops(r).every((op) => {
    const q = op.request;
    if (q.case === "requestRange" || q.case === undefined) return true;
    if (q.case === "requestTxn") return isReadOnly(q.value);
    return false;
  });
}

/** True when every range of a read-only txn asks for a serializable read (etcd's rule). */
function isSerializable(r: pb.TxnRequest): boolean {
  return ops(r).every((op) => {
    const q = op.request;
    if (q.case === "requestRange") return q.value.serializable;
    if (q.case === "requestTxn") return isSerializable(q.value);
    return true;
  });
}

/** The KV service implementation for createApiHandler. */
export function kvService(m: Member): Partial<ServiceImpl<typeof KV>> {
  const header = (rev: number) => m.header(rev);
  return {
    async range(req, ctx) {
      const r = rangeFromPb(req);
      checkRange(r);
      m.auth.checkRange(await authInfo(m, ctx), req.key, req.rangeEnd);
      if (!req.serializable) await m.linearizableRead();
      return rangeToPb(applyRange(m.store, r), header);
    },
    async *rangeStream(req, ctx) {
      // etcd 3.7: Range's checks, auth and read round, then the range in chunks at one
      // revision; between chunks nothing is held but the generator.
      const r = rangeFromPb(req);
      checkRangeStream(r);
      m.auth.checkRange(await authInfo(m, ctx), req.key, req.rangeEnd);
      if (!req.serializable) await m.linearizableRead();
      const chunks = openRangeStream(m.store, r, { maxChunkBytes: m.config.maxRequestBytes });
      for (const c of chunks) {
        const rangeResponse = create(pb.RangeResponseSchema, { kvs: c.kvs.map(kvToPb) });
        if (c.end) {
          rangeResponse.header = header(c.end.revision);
          rangeResponse.more = c.end.more;
          rangeResponse.count = BigInt(c.end.count);
        }
        yield create(pb.RangeStreamResponseSchema, { rangeResponse });
        if (ctx.signal.aborted) return;
      }
    },
    async put(req, ctx) {
      checkPut(putFromPb(req));
      const info = await authInfo(m, ctx);
      if (m.auth.enabled) checkPutAuth(m.auth, info, req);
      await m.checkQuota(costPut(req));
      const a = await m.propose({ kind: RequestKind.Put, req }, requestAuth(info));
      if (a.kind !== "put") throw new Error(`put applied as ${a.kind}`);
      return putToPb(a.r, header);
    },
    async deleteRange(req, ctx) {
      checkDeleteRange(deleteFromPb(req));
      const info = await authInfo(m, ctx);
      if (m.auth.enabled) checkDeleteAuth(m.auth, info, req);
      const a = await m.propose({ kind: RequestKind.DeleteRange, req }, requestAuth(info));
      if (a.kind !== "delete") throw new Error(`delete applied as ${a.kind}`);
      return deleteToPb(a.r, header);
    },
    async txn(req, ctx) {
      const t = txnFromPb(req);
      checkTxn(t, m.config.maxTxnOps);
      const info = await authInfo(m, ctx);
      if (m.auth.enabled) checkTxnAuth(m.auth, info, req);
      if (isReadOnly(req)) {
        // as etcd: a txn that only reads is served like a range, without a log entry
        if (!isSerializable(req)) await m.linearizableRead();
        return txnToPb(applyTxn(m.store, t, { maxTxnOps: m.config.maxTxnOps }), header);
      }
      await m.checkQuota(costTxn(req));
      const a = await m.propose({ kind: RequestKind.Txn, req }, requestAuth(info));
      if (a.kind !== "txn") throw new Error(`txn applied as ${a.kind}`);
      return txnToPb(a.r, header);
    },
    async compact(req, ctx) {
      await authInfo(m, ctx); // etcd resolves the caller's token for every proposal
      const a = await m.propose({ kind: RequestKind.Compaction, req });
      if (a.kind !== "compaction") throw new Error(`compaction applied as ${a.kind}`);
      if (req.physical) await a.done;
      return create(pb.CompactionResponseSchema, { header: header(a.r.header.revision) });
    },
  };
}
