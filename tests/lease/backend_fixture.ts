/**
 * The real backend (lib/backend's page file) for the lease and auth tests, over the simulated
 * disk or a temporary directory on the real one. The backend's batch timer runs on its own
 * SimClock that the tests never advance, so commits happen exactly where a test asks.
 */
import type { Backend } from "../../lib/backend/backend.ts";
import { openBackend } from "../../lib/backend/open.ts";
import { SimClock } from "../../lib/io/clock.ts";
import type { Disk } from "../../lib/io/disk.ts";
import { RealDisk } from "../../lib/io/real_disk.ts";
import { SimDisk } from "../../lib/io/sim_disk.ts";

/** Where a test's page file lives. */
export interface TestPlace {
  kind: "sim" | "real";
  disk: Disk;
  path: string;
  /** The simulated disk, for crashes; undefined on the real disk. */
  sim?: SimDisk;
  /** Opens (or reopens) the backend at `path`. */
  open(): Promise<Backend>;
  /** Removes what the place created. */
  cleanup(): Promise<void>;
}

/** A fresh page file location on the simulated disk. */
export function simPlace(): TestPlace {
  const sim = new SimDisk();
  return {
    kind: "sim",
    disk: sim,
    sim,
    path: "/lease-auth.db",
    open: () => openBackend(sim, "/lease-auth.db", { clock: new SimClock() }),
    cleanup: () => Promise.resolve(),
  };
}

/** A fresh page file location in a temporary directory on the real disk. */
export async function realPlace(): Promise<TestPlace> {
  const dir = await Deno.makeTempDir({ prefix: "concord-lease-auth-" });
  const disk = new RealDisk();
  const path = `${dir}/db`;
  return {
    kind: "real",
    disk,
    path,
    open: () => openBackend(disk, path, { clock: new SimClock() }),
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
}

/** Both kinds of place, for tests that run over each. */
export const places: Array<{ kind: "sim" | "real"; make: () => Promise<TestPlace> }> = [
  { kind: "sim", make: () => Promise.resolve(simPlace()) },
  { kind: "real", make: realPlace },
];

/** A backend on a fresh simulated disk, for tests that only need somewhere to write. */
export function simBackend(): Promise<Backend> {
  return simPlace().open();
}
