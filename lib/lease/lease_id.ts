/**
 * Server-chosen lease ids, as etcd chooses them: when a LeaseGrant request carries id 0, the
 * member that receives it picks an id before proposing (so every member applies the same id)
 * from its request-id generator (etcd's idutil: the member id's low 16 bits, then 40 bits of
 * the millisecond clock at start, then an 8-bit counter, incremented across the lower 48 bits),
 * keeping only positive int64 values.
 */
import type { LeaseId, MemberId } from "../base/types.ts";

const SUFFIX_BITS = 48n; // 40 bits of time, 8 bits of counter
const SUFFIX_MASK = (1n << SUFFIX_BITS) - 1n;
const TIME_MASK = (1n << 40n) - 1n;
const INT63_MASK = (1n << 63n) - 1n;

/** etcd's id generator (idutil.Generator) restricted to positive ids for leases. */
export class LeaseIdGenerator {
  readonly #prefix: bigint;
  #suffix: bigint;

  /** `memberId`: this member; `wallMs`: the wall clock now (Clock.wallNow()). */
  constructor(memberId: MemberId, wallMs: number) {
    this.#prefix = (BigInt.asUintN(16, memberId)) << SUFFIX_BITS;
    this.#suffix = (BigInt(Math.floor(wallMs)) & TIME_MASK) << 8n;
  }

  /**
   * The next id: non-zero and positive (etcd masks to 63 bits). `taken` lets the caller
   * skip ids already in use (`lessor.exists`), which etcd leaves to the grant failing.
   */
  next(taken: (id: LeaseId) => boolean = () => false): LeaseId {
    for (;;) {
      this.#suffix = (this.#suffix + 1n) & SUFFIX_MASK;
      const id = (this.#prefix | this.#suffix) & INT63_MASK;
      if (id !== 0n && !taken(id)) return id;
    }
  }
}
