/**
 * What the store needs from the lessor, as a small interface so that lib/mvcc never imports
 * lib/lease (the lessor imports the store to delete a revoked lease's keys). It mirrors
 * etcd's use of lease.Lessor inside mvcc: a put with a lease checks the lease exists and
 * attaches the key; a put that changes a key's lease or a delete detaches it; opening the
 * store attaches every live key that carries a lease, which is how the lessor relearns its
 * keys after a restart.
 */

import type { LeaseId } from "../base/types.ts";

/** Implemented by the lessor and given to `MvccStore.open`. */
export interface LeaseHooks {
  /** True when the lease exists now (a put naming a missing lease fails with leaseNotFound). */
  exists(id: LeaseId): boolean;
  /** The key now carries the lease. Called within the write that makes it so. */
  attach(id: LeaseId, key: Uint8Array): void;
  /** The key no longer carries the lease (overwritten with another lease or none, or deleted). */
  detach(id: LeaseId, key: Uint8Array): void;
}
