/**
 * The key-value namespace: range (every option), get (one key, or undefined), put, delete,
 * compact and txn. A missing key is not an error: range returns no kvs and get undefined.
 */
import {
  type CompactionResponse,
  type DeleteRangeResponse,
  KV,
  type PutResponse,
  type RangeResponse,
  type TxnRequest,
  type TxnResponse,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { KeyValue } from "../../proto/gen/mvccpb/kv_pb.ts";
import type { Bytes } from "./bytes.ts";
import type { CallOptions, Connection, MemberCallOptions } from "./connection.ts";
import { toEtcdError } from "./errors.ts";
import {
  type DeleteOptions,
  deleteRequest,
  type PutOptions,
  putRequest,
  type RangeOptions,
  rangeRequest,
  readOnlyOps,
} from "./ops.ts";
import { Txn } from "./txn.ts";

/** etcd's KV service, typed. */
export class KVClient {
  readonly #conn: Connection;

  /** Made by the Client. */
  constructor(conn: Connection) {
    this.#conn = conn;
  }

  /**
   * Reads a key or a range of keys (`prefix`, `fromKey` or `end`), optionally at an old
   * `revision`, sorted, limited, counted or keys-only.
   *
   * @example
   * ```ts
   * import { Client, text } from "./mod.ts";
   * const client = new Client({ endpoints: Deno.env.get("ETCDCTL_ENDPOINTS")?.split(",") ?? "127.0.0.1:2379" });
   * await client.put("config/b", "2");
   * await client.put("config/a", "1");
   * const r = await client.kv.range("config/", { prefix: true, sort: { order: "ascend" } });
   * for (const kv of r.kvs) console.log(text(kv.key), text(kv.value)); // config/a 1, config/b 2
   * await client.close();
   * ```
   */
  range(key: Bytes, opts?: RangeOptions & MemberCallOptions): Promise<RangeResponse> {
    const req = rangeRequest(key, opts);
    return this.#conn.call("read", opts, (ep, a) => this.#conn.client(ep, KV).range(req, a));
  }

  /**
   * Reads a range as a stream of chunks (etcd 3.7's RangeStream), so neither the member nor
   * this client holds the whole range at once: each yielded RangeResponse carries the next
   * kvs in key order, and the last also `header`, `more` and `count` (merged, the chunks are
   * what `range` answers). Sorting other than by key ascending and revision filters are
   * refused (Unimplemented), as etcd refuses them. Not retried: a broken stream fails.
   * Breaking out of the loop cancels the stream on the member.
   *
   * @example
   * ```ts
   * import { Client, text } from "./mod.ts";
   * const client = new Client({ endpoints: Deno.env.get("ETCDCTL_ENDPOINTS")?.split(",") ?? "127.0.0.1:2379" });
   * await client.put("config/a", "1");
   * for await (const chunk of client.kv.rangeStream("config/", { prefix: true })) {
   *   for (const kv of chunk.kvs) console.log(text(kv.key), text(kv.value));
   * }
   * await client.close();
   * ```
   */
  async *rangeStream(
    key: Bytes,
    opts?: RangeOptions & MemberCallOptions,
  ): AsyncGenerator<RangeResponse> {
    const req = rangeRequest(key, opts);
    const ep = opts?.endpoint === undefined ? this.#conn.pick() : this.#conn.at(opts.endpoint);
    const scope = this.#conn.scope(opts);
    try {
      const headers = await scope.guard(this.#conn.headers());
      const stream = this.#conn.client(ep, KV).rangeStream(req, {
        signal: scope.signal,
        headers,
        timeoutMs: scope.remaining(),
      });
      for await (const r of stream) {
        if (r.rangeResponse === undefined) throw new Error("RangeStream: a chunk without a range");
        yield r.rangeResponse;
      }
    } catch (raw) {
      scope.check(raw);
      throw toEtcdError(raw);
    } finally {
      scope.dispose();
    }
  }

  /** The key's current key-value, or undefined when it does not exist. */
  async get(key: Bytes, opts?: RangeOptions & MemberCallOptions): Promise<KeyValue | undefined> {
    const r = await this.range(key, opts);
    return r.kvs[0];
  }

  /** Sets a key; with `lease` attached to it, with `prevKv` returning what it replaced. */
  put(key: Bytes, value: Bytes, opts?: PutOptions & MemberCallOptions): Promise<PutResponse> {
    const req = putRequest(key, value, opts);
    return this.#conn.call("write", opts, (ep, a) => this.#conn.client(ep, KV).put(req, a));
  }

  /** Deletes a key or a range; `deleted` counts them. */
  delete(key: Bytes, opts?: DeleteOptions & MemberCallOptions): Promise<DeleteRangeResponse> {
    const req = deleteRequest(key, opts);
    return this.#conn.call(
      "write",
      opts,
      (ep, a) => this.#conn.client(ep, KV).deleteRange(req, a),
    );
  }

  /**
   * Discards the history before `revision`; `physical` waits until the space is reclaimed.
   * Not retried once sent: a second compaction at the same revision fails as compacted.
   */
  compact(
    revision: number | bigint,
    opts?: { physical?: boolean } & MemberCallOptions,
  ): Promise<CompactionResponse> {
    const req = { revision: BigInt(revision), physical: opts?.physical ?? false };
    return this.#conn.call("write", opts, (ep, a) => this.#conn.client(ep, KV).compact(req, a));
  }

  /** Starts a transaction: `.if(...).then(...).else(...).commit()`. */
  txn(): Txn {
    return new Txn((req, opts) => this.txnRequest(req, opts));
  }

  /**
   * Sends a TxnRequest as built elsewhere. A txn whose branches only read is retried on
   * another member like a read; one that writes only when it provably was not applied.
   */
  txnRequest(req: TxnRequest, opts?: CallOptions): Promise<TxnResponse> {
    const policy = readOnlyOps(req.success) && readOnlyOps(req.failure) ? "read" : "write";
    return this.#conn.call(policy, opts, (ep, a) => this.#conn.client(ep, KV).txn(req, a));
  }
}
