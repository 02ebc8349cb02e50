/**
 * Concord as a library. The front door is the etcd v3 client, `Client` (its helpers, such as
 * `client.cmp` and `client.op`, under `client`); below it, embed Concord's layers in another
 * Deno program. Each layer is exported
 * under its own name, so entry points read as `raft.RawNode`, `backend.openBackend`, … and
 * names that recur across layers (errors, options) never collide.
 */
/** The etcd v3 client, for Concord and etcd clusters. */
export { Client, type ClientOptions } from "./lib/client/mod.ts";
/** The client's namespaces, recipes and helpers. */
export * as client from "./lib/client/mod.ts";
export * from "./lib/base/types.ts";
export { Rand } from "./lib/base/rand.ts";
export { crc32c } from "./lib/base/crc32c.ts";
export { Errors, EtcdError, GrpcCode } from "./lib/base/errors.ts";
export { VERSION } from "./lib/base/version.ts";
export type { Disk, DiskFile, OpenOptions } from "./lib/io/disk.ts";
export { RealDisk } from "./lib/io/real_disk.ts";
export { SimDisk } from "./lib/io/sim_disk.ts";
export { type Clock, RealClock, SimClock } from "./lib/io/clock.ts";
/** Logging: etcd's zap-style JSON lines, through a Logger given to each layer. */
export {
  createLogger,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  nullLogger,
} from "./lib/base/log.ts";

/** Storage: the copy-on-write B+tree page file and its batching backend. */
export * as backend from "./lib/backend/open.ts";
/** Storage: the write-ahead log. */
export { Wal } from "./lib/wal/wal.ts";
/** Storage: raft snapshot files and the database snapshots that travel with them. */
export { Snapshotter } from "./lib/snap/snapshotter.ts";
/** Consensus: the pure raft state machine and its driver. */
export * as raft from "./lib/raft/mod.ts";
/** Logic: MVCC store, its request appliers, and watch. */
export { MvccStore } from "./lib/mvcc/kv_store.ts";
export * as mvcc from "./lib/mvcc/applier.ts";
export { WatchHub } from "./lib/mvcc/watch_hub.ts";
/** Logic: leases. */
export { Lessor } from "./lib/lease/lessor.ts";
/** Logic: users, roles and permissions. */
export { AuthStore } from "./lib/auth/store.ts";
/** Network: Concord's HTTP/1.1 + HTTP/2 server. */
export { serveHttp } from "./lib/http/server.ts";
/** API: one handler for gRPC, gRPC-web, Connect and etcd's REST gateway. */
export { createApiHandler } from "./lib/api/handler.ts";
/** A whole member served on its client URLs (what `concord serve` runs). */
export { startServer } from "./lib/api/member_server.ts";
