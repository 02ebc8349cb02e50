/**
 * The txn builder: `client.txn().if(...cmps).then(...ops).else(...ops).commit()`, as
 * clientv3's. A txn whose branches only read is retried on another member like a read;
 * one that writes is retried only when it provably was not applied.
 */
import type { Compare, RequestOp, TxnResponse } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { KV } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { CallOptions, Connection } from "./connection.ts";
import { readOnlyOps, txnRequest } from "./ops.ts";

/** A transaction being built; `commit` sends it. */
export class Txn {
  #compare: Compare[] = [];
  #success: RequestOp[] = [];
  #failure: RequestOp[] = [];
  #stage = 0;
  readonly #conn: Connection;

  /** Made by `client.txn()` / `client.kv.txn()`. */
  constructor(conn: Connection) {
    this.#conn = conn;
  }

  /** The comparisons, all of which must hold for `then` to run (call once, first). */
  if(...compare: Compare[]): this {
    if (this.#stage > 0) throw new TypeError("txn: if() must come before then() and else()");
    this.#stage = 1;
    this.#compare.push(...compare);
    return this;
  }

  /** The operations run when every comparison holds. */
  then(...ops: RequestOp[]): this {
    if (this.#stage > 1) throw new TypeError("txn: then() must come before else()");
    this.#stage = 2;
    this.#success.push(...ops);
    return this;
  }

  /** The operations run otherwise. */
  else(...ops: RequestOp[]): this {
    if (this.#stage > 3) throw new TypeError("txn: else() was already called");
    this.#stage = 3;
    this.#failure.push(...ops);
    return this;
  }

  /** Sends the txn; `succeeded` says which branch ran, `responses` its results. */
  commit(opts?: CallOptions): Promise<TxnResponse> {
    const req = txnRequest(this.#compare, this.#success, this.#failure);
    const policy = readOnlyOps(this.#success) && readOnlyOps(this.#failure) ? "read" : "write";
    return this.#conn.call(
      policy,
      opts,
      (ep, a) => this.#conn.client(ep, KV).txn(req, a),
    );
  }
}
