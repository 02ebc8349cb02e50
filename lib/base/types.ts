/**
 * Concord's 64-bit numbering policy, decided once for every layer.
 *
 * etcd's wire format carries revisions, raft terms and indexes, lease ids and member ids as
 * 64-bit integers. In memory Concord holds them as follows:
 *
 * - Counters that grow by one per operation (raft term and index, MVCC revision, version,
 *   consistent index) are JavaScript `number`s, checked to be safe integers where they enter
 *   from the wire or from disk. At a million operations per second a counter needs 285 years
 *   to pass 2^53, and `number` arithmetic is many times faster than `bigint` on hot paths.
 * - Identifiers that are random or hashed across the full 64-bit range (lease ids chosen by
 *   clients, member ids, cluster ids, raft node ids) are `bigint`, because their values do
 *   not fit a double. They are compared, hashed and printed, never counted with.
 */

/** A raft term: incremented on every election. */
export type Term = number;
/** A raft log index: position of an entry in the replicated log. */
export type Index = number;
/** An MVCC main revision: one per write transaction, the etcd "revision". */
export type Revision = number;
/** A lease id: random 64-bit, chosen by the server or the client; 0 means "no lease". */
export type LeaseId = bigint;
/** A cluster member id (also the raft node id); derived from names and urls like etcd's. */
export type MemberId = bigint;
/** A cluster id, derived from the initial member ids like etcd's. */
export type ClusterId = bigint;

/** The largest integer a counter may reach before Concord refuses it (2^53 - 1). */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

/**
 * Converts a 64-bit value read from the wire or from disk into a safe counter.
 * Throws a RangeError naming `what` instead of silently losing precision.
 */
export function toCounter(value: bigint | number, what: string): number {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`${what} ${value} is not a non-negative safe integer`);
    }
    return value;
  }
  if (value < 0n || value > BigInt(MAX_COUNTER)) {
    throw new RangeError(`${what} ${value} is outside the supported range 0..2^53-1`);
  }
  return Number(value);
}

/**
 * An int64 request field that etcd compares with revisions, versions or limits (range
 * revision and limit, min/max mod/create revision, compare targets, watch start revision,
 * compaction revision, lease TTL), as a number that compares with every counter and with
 * etcd's -1 marker (the compacted revision before any compaction) exactly as the int64 does:
 * values below -1 become -2, values above MAX_COUNTER become MAX_COUNTER + 1 (2^53, exact as
 * a double and past every counter), the rest are kept. So such a request gets etcd's answer
 * (no limit, the current revision, a future revision, compacted, ...) instead of a refusal.
 */
export function saturateInt64(value: bigint): number {
  if (value < -1n) return -2;
  if (value > BigInt(MAX_COUNTER)) return MAX_COUNTER + 1;
  return Number(value);
}

/** Reinterprets a uint64 as the int64 etcd puts on the wire for signed fields (lease ids). */
export function asInt64(value: bigint): bigint {
  return BigInt.asIntN(64, value);
}

/** Reinterprets an int64 as uint64 (member ids print as unsigned hex in etcdctl). */
export function asUint64(value: bigint): bigint {
  return BigInt.asUintN(64, value);
}
