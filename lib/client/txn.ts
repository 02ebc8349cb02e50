/**
 * The txn builder: `client.txn().if(...cmps).then(...ops).else(...ops).commit()`, as
 * clientv3's. How the built request is sent (and retried) is the sender's business.
 */
import type {
  Compare,
  RequestOp,
  TxnRequest,
  TxnResponse,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { CallOptions } from "./connection.ts";
import { txnRequest } from "./ops.ts";

/** Sends a built txn (the KV client's, or a namespace's that prefixes keys first). */
export type TxnSender = (req: TxnRequest, opts?: CallOptions) => Promise<TxnResponse>;

/** A transaction being built; `commit` sends it. */
export class Txn {
  #compare: Compare[] = [];
  #success: RequestOp[] = [];
  #failure: RequestOp[] = [];
  #stage = 0;
  readonly #send: TxnSender;

  /** Made by `client.txn()` / `client.kv.txn()`. */
  constructor(send: TxnSender) {
    this.#send = send;
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
    return this.#send(txnRequest(this.#compare, this.#success, this.#failure), opts);
  }
}
