/**
 * A namespace: a view of the cluster in which every key is under a prefix
 * (clientv3/namespace). Calls take and return keys without the prefix; ranges, including
 * "all keys" and "from key", stay inside it; txn comparisons and operations, and watches,
 * are prefixed alike. Two applications sharing a cluster each get their own keyspace.
 */
import { clone } from "@bufbuild/protobuf";
import {
  type Compare,
  CompareSchema,
  type DeleteRangeResponse,
  type PutResponse,
  type RangeResponse,
  type RequestOp,
  RequestOpSchema,
  type ResponseOp,
  type TxnRequest,
  TxnRequestSchema,
  type WatchResponse,
} from "../../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { KeyValue } from "../../../proto/gen/mvccpb/kv_pb.ts";
import { prefixEnd } from "../../base/bytes.ts";
import { type Bytes, toBytes } from "../bytes.ts";
import type { Client } from "../client.ts";
import type { CallOptions } from "../connection.ts";
import {
  type DeleteOptions,
  deleteRequest,
  type PutOptions,
  type RangeOptions,
  rangeRequest,
} from "../ops.ts";
import { Txn } from "../txn.ts";
import type { Watch, WatchOptions } from "../watch.ts";

/** The client's KV calls, and watch, inside a key prefix. */
export class Namespace {
  /** The client every call goes through. */
  readonly client: Client;
  /** The prefix every key gets. */
  readonly prefix: Uint8Array;

  /**
   * A view of `client` inside `prefix` (non-empty).
   *
   * @example
   * ```ts
   * import { Client, Namespace } from "../mod.ts";
   * const client = new Client({ endpoints: Deno.env.get("ETCDCTL_ENDPOINTS")?.split(",") ?? "127.0.0.1:2379" });
   * const app = new Namespace(client, "apps/billing/");
   * await app.put("config", "x"); // stored as apps/billing/config
   * const all = await app.range("", { fromKey: true }); // only apps/billing/ keys
   * console.log(all.count);
   * await client.close();
   * ```
   */
  constructor(client: Client, prefix: Bytes) {
    if (toBytes(prefix).length === 0) throw new TypeError("a namespace needs a non-empty prefix");
    this.client = client;
    this.prefix = toBytes(prefix);
  }

  /** The prefixed [key, rangeEnd) of an interval given inside the namespace. */
  #interval(key: Uint8Array, end: Uint8Array): [Uint8Array, Uint8Array] {
    const k = concat(this.prefix, key);
    if (end.length === 1 && end[0] === 0) return [k, prefixEnd(this.prefix)];
    if (end.length === 0) return [k, end];
    return [k, concat(this.prefix, end)];
  }

  #strip(kv: KeyValue | undefined): void {
    if (kv) kv.key = kv.key.subarray(this.prefix.length);
  }

  /** As `kv.range`, inside the namespace. */
  async range(key: Bytes, opts?: RangeOptions & CallOptions): Promise<RangeResponse> {
    const req = rangeRequest(key, opts);
    const [k, end] = this.#interval(req.key, req.rangeEnd);
    const r = await this.client.kv.range(k, { ...opts, prefix: false, fromKey: false, end });
    for (const kv of r.kvs) this.#strip(kv);
    return r;
  }

  /** As `kv.rangeStream`, inside the namespace: each chunk's keys come back without it. */
  async *rangeStream(
    key: Bytes,
    opts?: RangeOptions & CallOptions,
  ): AsyncGenerator<RangeResponse> {
    const req = rangeRequest(key, opts);
    const [k, end] = this.#interval(req.key, req.rangeEnd);
    const chunks = this.client.kv.rangeStream(k, { ...opts, prefix: false, fromKey: false, end });
    for await (const r of chunks) {
      for (const kv of r.kvs) this.#strip(kv);
      yield r;
    }
  }

  /** As `kv.get`, inside the namespace. */
  async get(key: Bytes, opts?: RangeOptions & CallOptions): Promise<KeyValue | undefined> {
    return (await this.range(key, opts)).kvs[0];
  }

  /** As `kv.put`, inside the namespace. */
  async put(key: Bytes, value: Bytes, opts?: PutOptions & CallOptions): Promise<PutResponse> {
    const r = await this.client.kv.put(concat(this.prefix, toBytes(key)), value, opts);
    this.#strip(r.prevKv);
    return r;
  }

  /** As `kv.delete`, inside the namespace. */
  async delete(key: Bytes, opts?: DeleteOptions & CallOptions): Promise<DeleteRangeResponse> {
    const req = deleteRequest(key, opts);
    const [k, end] = this.#interval(req.key, req.rangeEnd);
    const r = await this.client.kv.delete(k, { ...opts, prefix: false, fromKey: false, end });
    for (const kv of r.prevKvs) this.#strip(kv);
    return r;
  }

  /** A txn whose comparisons and operations are given inside the namespace. */
  txn(): Txn {
    return new Txn(async (req, opts) => {
      const r = await this.client.kv.txnRequest(
        this.#txn(req.compare, req.success, req.failure),
        opts,
      );
      this.#stripResponses(r.responses);
      return r;
    });
  }

  /** As `client.watch`, inside the namespace (event keys come back without the prefix). */
  watch(key: Bytes, opts: WatchOptions = {}): NamespacedWatch {
    const span = rangeRequest(key, opts).rangeEnd;
    const [k, end] = this.#interval(toBytes(key), span);
    const w = this.client.watch(k, { ...opts, prefix: false, fromKey: false, end });
    return new NamespacedWatch(w, this.prefix.length);
  }

  #txn(compare: Compare[], success: RequestOp[], failure: RequestOp[]): TxnRequest {
    return clone(TxnRequestSchema, {
      $typeName: "etcdserverpb.TxnRequest",
      compare: compare.map((c) => {
        const n = clone(CompareSchema, c);
        [n.key, n.rangeEnd] = this.#interval(c.key, c.rangeEnd);
        return n;
      }),
      success: success.map((o) => this.#op(o)),
      failure: failure.map((o) => this.#op(o)),
    });
  }

  #op(o: RequestOp): RequestOp {
    const n = clone(RequestOpSchema, o);
    const r = n.request;
    switch (r.case) {
      case "requestRange":
      case "requestDeleteRange":
        [r.value.key, r.value.rangeEnd] = this.#interval(r.value.key, r.value.rangeEnd);
        break;
      case "requestPut":
        r.value.key = concat(this.prefix, r.value.key);
        break;
      case "requestTxn":
        r.value = this.#txn(r.value.compare, r.value.success, r.value.failure);
        break;
    }
    return n;
  }

  #stripResponses(rs: ResponseOp[]): void {
    for (const resp of rs) {
      const r = resp.response;
      switch (r.case) {
        case "responseRange":
          for (const kv of r.value.kvs) this.#strip(kv);
          break;
        case "responsePut":
          this.#strip(r.value.prevKv);
          break;
        case "responseDeleteRange":
          for (const kv of r.value.prevKvs) this.#strip(kv);
          break;
        case "responseTxn":
          this.#stripResponses(r.value.responses);
          break;
      }
    }
  }
}

/** A watch inside a namespace: the same watch, its event keys without the prefix. */
export class NamespacedWatch implements AsyncIterable<WatchResponse> {
  readonly #w: Watch;
  readonly #strip: number;

  /** Made by `Namespace.watch`. */
  constructor(w: Watch, prefixLength: number) {
    this.#w = w;
    this.#strip = prefixLength;
  }

  /** As `Watch.ready`. */
  get ready(): Promise<void> {
    return this.#w.ready;
  }

  /** As `Watch.nextRevision`. */
  get nextRevision(): bigint {
    return this.#w.nextRevision;
  }

  /** Ends the watch. */
  cancel(): void {
    this.#w.cancel();
  }

  /** The watch's responses, keys without the namespace's prefix. */
  async *[Symbol.asyncIterator](): AsyncGenerator<WatchResponse> {
    for await (const r of this.#w) {
      for (const e of r.events) {
        if (e.kv) e.kv.key = e.kv.key.subarray(this.#strip);
        if (e.prevKv) e.prevKv.key = e.prevKv.key.subarray(this.#strip);
      }
      yield r;
    }
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
