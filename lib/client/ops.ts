/**
 * Requests as values: the range, put and delete requests KV calls send and txn branches
 * hold, built from typed options (every option etcd's API has), and the comparisons a txn
 * guards on. One builder per request, so `kv.put(k, v, o)` and `op.put(k, v, o)` agree.
 */
import { create } from "@bufbuild/protobuf";
import {
  type Compare,
  Compare_CompareResult,
  Compare_CompareTarget,
  CompareSchema,
  type DeleteRangeRequest,
  DeleteRangeRequestSchema,
  type PutRequest,
  PutRequestSchema,
  type RangeRequest,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  RangeRequestSchema,
  type RequestOp,
  RequestOpSchema,
  type TxnRequest,
  TxnRequestSchema,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { type Bytes, FROM_KEY, rangeEndOfPrefix, toBytes } from "./bytes.ts";

/** Which keys a request covers besides the key itself. */
export interface KeySpan {
  /** End of the range [key, end) — exclusive. */
  end?: Bytes;
  /** Every key starting with the key (etcd's WithPrefix). */
  prefix?: boolean;
  /** Every key at or after the key (etcd's WithFromKey). */
  fromKey?: boolean;
}

/** The field a range sorts by. */
export type SortTarget = "key" | "version" | "create" | "mod" | "value";

/** Range options: all of etcd's RangeRequest. */
export interface RangeOptions extends KeySpan {
  /** At most this many keys (0: no limit). */
  limit?: number | bigint;
  /** Read at this revision (0: the newest). */
  revision?: number | bigint;
  /** Sort by this field (default key) in this order. */
  sort?: { target?: SortTarget; order: "ascend" | "descend" };
  /** Served by the member from its own state, without a consensus round (may be stale). */
  serializable?: boolean;
  /** Return keys without values. */
  keysOnly?: boolean;
  /** Return only the count of matching keys. */
  countOnly?: boolean;
  /** Only keys last modified at or after this revision. */
  minModRevision?: number | bigint;
  /** Only keys last modified at or before this revision. */
  maxModRevision?: number | bigint;
  /** Only keys created at or after this revision. */
  minCreateRevision?: number | bigint;
  /** Only keys created at or before this revision. */
  maxCreateRevision?: number | bigint;
}

/** Put options: all of etcd's PutRequest. */
export interface PutOptions {
  /** Attach the key to this lease (0: none). */
  lease?: number | bigint;
  /** Return the previous key-value. */
  prevKv?: boolean;
  /** Keep the current value (the value given must be empty). */
  ignoreValue?: boolean;
  /** Keep the current lease (no lease may be given). */
  ignoreLease?: boolean;
}

/** Delete options: all of etcd's DeleteRangeRequest. */
export interface DeleteOptions extends KeySpan {
  /** Return the deleted key-values. */
  prevKv?: boolean;
}

function rangeEnd(key: Bytes, span: KeySpan): Uint8Array {
  const n = (span.end !== undefined ? 1 : 0) + (span.prefix ? 1 : 0) + (span.fromKey ? 1 : 0);
  if (n > 1) throw new TypeError("end, prefix and fromKey exclude each other");
  if (span.end !== undefined) return toBytes(span.end);
  if (span.prefix) return rangeEndOfPrefix(key);
  if (span.fromKey) return FROM_KEY;
  return new Uint8Array();
}

const big = (n: number | bigint | undefined): bigint => BigInt(n ?? 0);

const SORT_TARGETS: Record<SortTarget, RangeRequest_SortTarget> = {
  key: RangeRequest_SortTarget.KEY,
  version: RangeRequest_SortTarget.VERSION,
  create: RangeRequest_SortTarget.CREATE,
  mod: RangeRequest_SortTarget.MOD,
  value: RangeRequest_SortTarget.VALUE,
};

/** A RangeRequest for `key` with `opts`. */
export function rangeRequest(key: Bytes, opts: RangeOptions = {}): RangeRequest {
  return create(RangeRequestSchema, {
    key: toBytes(key),
    rangeEnd: rangeEnd(key, opts),
    limit: big(opts.limit),
    revision: big(opts.revision),
    sortOrder: opts.sort === undefined
      ? RangeRequest_SortOrder.NONE
      : opts.sort.order === "ascend"
      ? RangeRequest_SortOrder.ASCEND
      : RangeRequest_SortOrder.DESCEND,
    sortTarget: SORT_TARGETS[opts.sort?.target ?? "key"],
    serializable: opts.serializable ?? false,
    keysOnly: opts.keysOnly ?? false,
    countOnly: opts.countOnly ?? false,
    minModRevision: big(opts.minModRevision),
    maxModRevision: big(opts.maxModRevision),
    minCreateRevision: big(opts.minCreateRevision),
    maxCreateRevision: big(opts.maxCreateRevision),
  });
}

/** A PutRequest. */
export function putRequest(key: Bytes, value: Bytes, opts: PutOptions = {}): PutRequest {
  return create(PutRequestSchema, {
    key: toBytes(key),
    value: toBytes(value),
    lease: big(opts.lease),
    prevKv: opts.prevKv ?? false,
    ignoreValue: opts.ignoreValue ?? false,
    ignoreLease: opts.ignoreLease ?? false,
  });
}

/** A DeleteRangeRequest. */
export function deleteRequest(key: Bytes, opts: DeleteOptions = {}): DeleteRangeRequest {
  return create(DeleteRangeRequestSchema, {
    key: toBytes(key),
    rangeEnd: rangeEnd(key, opts),
    prevKv: opts.prevKv ?? false,
  });
}

/** The operations a txn branch runs, built like the KV calls. */
export const op = {
  get(key: Bytes, opts?: RangeOptions): RequestOp {
    return create(RequestOpSchema, {
      request: { case: "requestRange", value: rangeRequest(key, opts) },
    });
  },
  put(key: Bytes, value: Bytes, opts?: PutOptions): RequestOp {
    return create(RequestOpSchema, {
      request: { case: "requestPut", value: putRequest(key, value, opts) },
    });
  },
  delete(key: Bytes, opts?: DeleteOptions): RequestOp {
    return create(RequestOpSchema, {
      request: { case: "requestDeleteRange", value: deleteRequest(key, opts) },
    });
  },
  /** A nested txn (etcd 3.3 and later). */
  txn(compare: Compare[], success: RequestOp[], failure: RequestOp[] = []): RequestOp {
    return create(RequestOpSchema, {
      request: { case: "requestTxn", value: txnRequest(compare, success, failure) },
    });
  },
};

/** A TxnRequest. */
export function txnRequest(
  compare: Compare[],
  success: RequestOp[],
  failure: RequestOp[],
): TxnRequest {
  return create(TxnRequestSchema, { compare, success, failure });
}

/** True when no operation of the txn writes (so it may be retried like a read). */
export function readOnlyOps(ops: RequestOp[]): boolean {
  return ops.every((o) =>
    o.request.case === "requestRange" ||
    (o.request.case === "requestTxn" &&
      readOnlyOps(o.request.value.success) && readOnlyOps(o.request.value.failure))
  );
}

/** A comparison operator. */
export type CompareOp = "=" | "!=" | ">" | "<";

const RESULTS: Record<CompareOp, Compare_CompareResult> = {
  "=": Compare_CompareResult.EQUAL,
  "!=": Compare_CompareResult.NOT_EQUAL,
  ">": Compare_CompareResult.GREATER,
  "<": Compare_CompareResult.LESS,
};

function compare(
  key: Bytes,
  target: Compare["target"],
  result: CompareOp,
  targetUnion: Compare["targetUnion"],
  span?: KeySpan,
): Compare {
  if (!(result in RESULTS)) throw new TypeError(`unknown comparison ${result}`);
  return create(CompareSchema, {
    key: toBytes(key),
    rangeEnd: span ? rangeEnd(key, span) : new Uint8Array(),
    target,
    result: RESULTS[result],
    targetUnion,
  });
}

/**
 * The comparisons a txn's `if` takes (etcd's Compare): `cmp.value("k", "=", "v")`,
 * `cmp.modRevision("k", "<", 10)`, … A `span` compares every key of a range.
 */
export const cmp = {
  value(key: Bytes, result: CompareOp, value: Bytes, span?: KeySpan): Compare {
    return compare(key, Compare_CompareTarget.VALUE, result, {
      case: "value",
      value: toBytes(value),
    }, span);
  },
  version(key: Bytes, result: CompareOp, version: number | bigint, span?: KeySpan): Compare {
    return compare(key, Compare_CompareTarget.VERSION, result, {
      case: "version",
      value: BigInt(version),
    }, span);
  },
  createRevision(key: Bytes, result: CompareOp, rev: number | bigint, span?: KeySpan): Compare {
    return compare(key, Compare_CompareTarget.CREATE, result, {
      case: "createRevision",
      value: BigInt(rev),
    }, span);
  },
  modRevision(key: Bytes, result: CompareOp, rev: number | bigint, span?: KeySpan): Compare {
    return compare(key, Compare_CompareTarget.MOD, result, {
      case: "modRevision",
      value: BigInt(rev),
    }, span);
  },
  lease(key: Bytes, result: CompareOp, id: number | bigint, span?: KeySpan): Compare {
    return compare(key, Compare_CompareTarget.LEASE, result, {
      case: "lease",
      value: BigInt(id),
    }, span);
  },
};
