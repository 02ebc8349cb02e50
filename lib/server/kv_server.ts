/**
 * The KV part of the server façade: each call takes etcd's wire request and the caller,
 * converts and validates the request once, checks the caller's permissions, decides between
 * a local read (after a shared ReadIndex round unless serializable) and a proposal through
 * raft, and answers with etcd's wire response. Refusals are catalogue errors (EtcdError).
 */
import { create } from "@bufbuild/protobuf";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { applyRange, applyTxn } from "../mvcc/applier.ts";
import { checkDeleteRange, checkPut, checkRange, checkTxn } from "../mvcc/validate.ts";
import { checkRangeStream, openRangeStream } from "../mvcc/range_stream.ts";
import type * as mv from "../mvcc/types.ts";
import type { Member } from "./member.ts";
import { RequestKind } from "./request.ts";
import { costPut, costTxn } from "./quota.ts";
import { checkDeleteAuth, checkPutAuth, checkTxnAuth, requestAuth } from "./auth_check.ts";
import { type Caller, resolveCaller } from "./caller.ts";
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
} from "./convert.ts";

const EMPTY = new Uint8Array(0);

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

/** etcd's KV calls over one member. */
export class KvServer {
  readonly #m: Member;
  readonly #header: (rev: number) => pb.ResponseHeader;

  constructor(m: Member) {
    this.#m = m;
    this.#header = (rev) => m.header(rev);
  }

  /** Range: served from the local store, linearizable unless the request is serializable. */
  async range(req: pb.RangeRequest, caller: Caller): Promise<pb.RangeResponse> {
    const r = rangeFromPb(req);
    return rangeToPb(await this.readRange(r, caller, !req.serializable), this.#header);
  }

  /**
   * RangeStream (etcd 3.7): Range's checks, auth and read round, then the range in chunks at
   * one revision, header, `more` and `count` on the last; between chunks nothing is held but
   * the generator. Stops when `signal` aborts (the client went away).
   */
  async *rangeStream(
    req: pb.RangeRequest,
    caller: Caller,
    signal: AbortSignal,
  ): AsyncGenerator<pb.RangeStreamResponse> {
    const member = this.#m;
    const r = rangeFromPb(req);
    checkRangeStream(r);
    member.auth.checkRange(await resolveCaller(member, caller), req.key, req.rangeEnd);
    if (!req.serializable) await member.linearizableRead();
    if (member.applyingSnapshot) await member.storeReady();
    const chunks = openRangeStream(() => member.store, r, {
      maxChunkBytes: member.config.maxRequestBytes,
    });
    for (;;) {
      // an install that began since the last chunk closed the store: the next waits for the
      // new one (and reads it at the stream's revision), as the first did
      if (member.applyingSnapshot) await member.storeReady();
      const next = chunks.next();
      if (next.done) return;
      const c = next.value;
      const rangeResponse = create(pb.RangeResponseSchema, { kvs: c.kvs.map(kvToPb) });
      if (c.end) {
        rangeResponse.header = this.#header(c.end.revision);
        rangeResponse.more = c.end.more;
        rangeResponse.count = BigInt(c.end.count);
      }
      yield create(pb.RangeStreamResponseSchema, { rangeResponse });
      if (signal.aborted) return;
    }
  }

  /**
   * A range as the store answers it, for the server's own clients (v3lock, v3election):
   * validated and permission-checked as Range is, after a ReadIndex round when linearizable.
   */
  async readRange(
    r: mv.RangeRequest,
    caller: Caller,
    linearizable = true,
  ): Promise<mv.RangeResponse> {
    const member = this.#m;
    checkRange(r);
    member.auth.checkRange(await resolveCaller(member, caller), r.key, r.rangeEnd ?? EMPTY);
    if (linearizable) await member.linearizableRead();
    // a snapshot install closes the store before the new one opens: wait for it, as etcd
    if (member.applyingSnapshot) await member.storeReady();
    return applyRange(member.store, r);
  }

  /**
   * Throws unless the caller may read `[key, rangeEnd)` (a watch's check: etcd's
   * isWatchPermitted); a token that cannot be resolved is refused even with auth off.
   */
  async checkRead(caller: Caller, key: Uint8Array, rangeEnd: Uint8Array): Promise<void> {
    this.#m.auth.checkRange(await resolveCaller(this.#m, caller), key, rangeEnd);
  }

  /**
   * Put: validated, permission- and quota-checked, then proposed. A caller without
   * credentials on a member without auth, within its quota (every put of an etcd benchmark),
   * is proposed in this synchronous step: the two awaits of the general path were four
   * promises and their reactions per put, and the async frame's promise that adopted the
   * proposal's stayed held with it for the whole commit wait (docs/perf.md, "put-1000 tail,
   * sixth session").
   */
  put(req: pb.PutRequest, caller: Caller): Promise<pb.PutResponse> {
    const m = this.#m;
    try {
      checkPut(putFromPb(req));
      if (
        caller.token === undefined &&
        (caller.certCommonName === undefined || !m.config.tls.clientCertAuth) &&
        !m.auth.enabled && m.withinQuota(costPut(req))
      ) {
        const header = this.#header;
        return m.propose({ kind: RequestKind.Put, req }).then((a) => putToPb(a.r, header));
      }
    } catch (err) {
      // as the async method it replaces: a failure is a rejected promise, never a throw
      return Promise.reject(err);
    }
    return this.#checkedPut(req, caller);
  }

  /** Put's general path: the caller resolved, its permission and the quota checked. */
  async #checkedPut(req: pb.PutRequest, caller: Caller): Promise<pb.PutResponse> {
    const m = this.#m;
    const info = await resolveCaller(m, caller);
    if (m.auth.enabled) checkPutAuth(m.auth, info, req);
    await m.checkQuota(costPut(req));
    // returned, not awaited: this frame (and the request it keeps) ends once the entry is
    // proposed instead of waiting for the commit with it
    const header = this.#header;
    return m.propose({ kind: RequestKind.Put, req }, requestAuth(info)).then((a) =>
      putToPb(a.r, header)
    );
  }

  /** DeleteRange: validated, permission-checked, then proposed. */
  async deleteRange(req: pb.DeleteRangeRequest, caller: Caller): Promise<pb.DeleteRangeResponse> {
    return deleteToPb(await this.proposeDelete(req, caller), this.#header);
  }

  /** DeleteRange's work, answered as the store's result (for the server's own clients). */
  async proposeDelete(req: pb.DeleteRangeRequest, caller: Caller): Promise<mv.DeleteRangeResponse> {
    const member = this.#m;
    checkDeleteRange(deleteFromPb(req));
    const info = await resolveCaller(member, caller);
    if (member.auth.enabled) checkDeleteAuth(member.auth, info, req);
    const a = await member.propose({ kind: RequestKind.DeleteRange, req }, requestAuth(info));
    return a.r;
  }

  /**
   * Txn: a txn that only reads is served like a range, without a log entry (as etcd); one
   * that may write is proposed.
   */
  async txn(req: pb.TxnRequest, caller: Caller): Promise<pb.TxnResponse> {
    const member = this.#m;
    if (!isReadOnly(req)) return txnToPb(await this.proposeTxn(req, caller), this.#header);
    const t = txnFromPb(req);
    checkTxn(t, member.config.maxTxnOps);
    const info = await resolveCaller(member, caller);
    if (member.auth.enabled) checkTxnAuth(member.auth, info, req);
    if (!isSerializable(req)) await member.linearizableRead();
    if (member.applyingSnapshot) await member.storeReady();
    return txnToPb(
      applyTxn(member.store, t, { maxTxnOps: member.config.maxTxnOps }),
      this.#header,
    );
  }

  /**
   * A txn through raft, validated, authorized and quota-checked, answered as the store's
   * result (Txn's writing path, and the server's own clients').
   */
  async proposeTxn(req: pb.TxnRequest, caller: Caller): Promise<mv.TxnResponse> {
    const member = this.#m;
    checkTxn(txnFromPb(req), member.config.maxTxnOps);
    const info = await resolveCaller(member, caller);
    if (member.auth.enabled) checkTxnAuth(member.auth, info, req);
    await member.checkQuota(costTxn(req));
    const a = await member.propose({ kind: RequestKind.Txn, req }, requestAuth(info));
    return a.r;
  }

  /** Compact: proposed; with `physical`, answered once the compaction reached the disk. */
  async compact(req: pb.CompactionRequest, caller: Caller): Promise<pb.CompactionResponse> {
    const m = this.#m;
    await resolveCaller(m, caller); // etcd resolves the caller's token for every proposal
    const a = await m.propose({ kind: RequestKind.Compaction, req });
    if (req.physical) await a.done;
    return create(pb.CompactionResponseSchema, { header: this.#header(a.r.header.revision) });
  }
}
