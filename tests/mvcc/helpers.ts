/** Opening the real page-file backend for MVCC tests. */
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { SimClock } from "../../lib/io/clock.ts";
import { openBackend } from "../../lib/backend/open.ts";
import type { Backend } from "../../lib/backend/backend.ts";

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
