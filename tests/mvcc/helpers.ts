/** Opening the real page-file backend for MVCC tests. */
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { SimClock } from "../../lib/io/clock.ts";
import { openBackend } from "../../lib/backend/open.ts";
import type { Backend } from "../../lib/backend/backend.ts";
import type { TxnRequest } from "../../lib/mvcc/types.ts";

export const DB_PATH = "/data/member/snap/db";

/** A fresh simulated disk with the data directory made. */
export async function newDisk(): Promise<SimDisk> {
  const disk = new SimDisk();
  await disk.mkdirAll("/data/member/snap");
  return disk;
}

/**
 * Opens the page-file backend on `disk`; batches commit only on commit() or after 10,000
 * operations (the simulated clock never advances), so tests decide when things are durable.
 */
export function openSimBackend(disk: SimDisk): Promise<Backend> {
  return openBackend(disk, DB_PATH, { clock: new SimClock() });
}

/**
 * True when a txn deletes with range_end "\0" and also puts with ignore_value or ignore_lease:
 * etcd 3.4 panics mid-apply on it, where Concord refuses it up front, so the differential
 * tests do not send it to etcd.
 */
export function panicsEtcd(t: TxnRequest): boolean {
  let zeroDel = false;
  let ignorePut = false;
  const walk = (x: TxnRequest) => {
    for (const o of [...(x.success ?? []), ...(x.failure ?? [])]) {
      if (o.case === "requestTxn") walk(o.value);
      if (o.case === "requestDeleteRange") {
        const e = o.value.rangeEnd;
        if (e && e.length === 1 && e[0] === 0) zeroDel = true;
      }
      if (o.case === "requestPut" && (o.value.ignoreLease || o.value.ignoreValue)) ignorePut = true;
    }
  };
  walk(t);
  return zeroDel && ignorePut;
}
