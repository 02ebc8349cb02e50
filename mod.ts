/**
 * Concord as a library: embed the layers in another Deno program. Each layer's entry points
 * are re-exported here as they land.
 */
export * from "./lib/base/types.ts";
export { Rand } from "./lib/base/rand.ts";
export { crc32c } from "./lib/base/crc32c.ts";
export { VERSION } from "./lib/base/version.ts";
export type { Disk, DiskFile, OpenOptions } from "./lib/io/disk.ts";
export { RealDisk } from "./lib/io/real_disk.ts";
export { SimDisk } from "./lib/io/sim_disk.ts";
export { type Clock, RealClock, SimClock } from "./lib/io/clock.ts";
