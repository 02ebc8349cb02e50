/**
 * Connects revoke to the KV store: a revoked lease's keys are deleted in one MVCC write
 * transaction, so the whole revoke is one revision (one event batch for watchers), written to
 * the same backend batch as the lessor's removal of the lease record.
 */
import type { Revision } from "../base/types.ts";
import { spanOf } from "../mvcc/key_bytes.ts";
import type { WriteTxn } from "../mvcc/kv_store.ts";
import type { LeaseKeyDeleter } from "./lessor.ts";

/** What the deleter needs of the KV store (lib/mvcc's MvccStore has it). */
export interface TxnWriter {
  beginWrite(): WriteTxn;
}

/**
 * A `LeaseKeyDeleter` over the KV store: one write transaction deleting each key (sorted
 * by the lessor), returning its revision. Keys already gone add nothing; if none was left
 * the store's revision does not move and the current one is returned.
 */
export function kvKeyDeleter(kv: TxnWriter): LeaseKeyDeleter {
  return {
    deleteKeys(keys: readonly Uint8Array[]): Revision {
      const txn = kv.beginWrite();
      try {
        for (const key of keys) txn.deleteRange(spanOf(key));
        return txn.rev();
      } finally {
        txn.end();
      }
    },
  };
}
