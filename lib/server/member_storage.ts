/**
 * What a member opens before it can run: the raft state (a new cluster's bootstrap entries, or
 * the newest snapshot and the WAL), the backend page file (recovered from a received
 * snapshot's db when the raft snapshot is ahead of it, as etcd's recoverSnapshotBackend), and
 * the auth token provider. Kept apart from the member so that start-up order and its failure
 * modes (a locked data dir, a missing db) read in one place.
 */
import { asLogger, type Logger, stderrLogger, tookField } from "../base/log.ts";
import type { Clock } from "../io/clock.ts";
import { RealClock } from "../io/clock.ts";
import type { Disk } from "../io/disk.ts";
import { RealDisk } from "../io/real_disk.ts";
import { openBackend } from "../backend/open.ts";
import type { Backend } from "../backend/backend.ts";
import type { BatchBackend } from "../backend/batch_backend.ts";
import { LockedError } from "../backend/errors.ts";
import type { OnlineDefragOptions } from "../backend/online_defrag.ts";
import type { FaultPoints } from "../base/fault_points.ts";
import { WalLockedError } from "../wal/errors.ts";
import { Snapshotter } from "../snap/snapshotter.ts";
import { storedConsistentIndex } from "../mvcc/kv_store.ts";
import type { ServerConfig } from "./config.ts";
import type { TokenProvider } from "./token.ts";
import { jwtProviderFor } from "./token_jwt.ts";
import { bootstrapRaft, memberPaths } from "./bootstrap.ts";
import type { MembersFetcher } from "./join.ts";
import type { ServerMetrics } from "./server_metrics.ts";

/** A second process on the same data dir, or a page file or WAL held by another. */
export class DataDirLockedError extends Error {
  constructor(dataDir: string, what: string, options?: ErrorOptions) {
    super(
      `data dir ${dataDir} is in use by another member (${what} is locked); ` +
        `stop the other process or choose another --data-dir`,
      options,
    );
    this.name = "DataDirLockedError";
  }
}

/** The raft state a member boots from (bootstrap.ts). */
export type BootedRaft = Awaited<ReturnType<typeof bootstrapRaft>>;

/** Everything a member opened on its data dir, handed to its constructor. */
export interface MemberStorage {
  booted: BootedRaft;
  backend: Backend & BatchBackend;
  snapshotter: Snapshotter;
  disk: Disk;
  clock: Clock;
  /** The JWT provider when --auth-token names one; null for simple tokens. */
  tokens: TokenProvider | null;
}

/** The seams and knobs opening needs (a subset of MemberOptions). */
export interface StorageOptions {
  disk?: Disk;
  clock?: Clock;
  log?: Logger | ((line: string) => void);
  walSegmentBytes?: number;
  fetchMembers?: MembersFetcher;
  metrics?: ServerMetrics;
  /** How the backend's online defrag slices its work (the simulation turns slicing off). */
  backendDefrag?: OnlineDefragOptions;
  /** Fault points for tests, handed to the WAL and the backend (lib/base/fault_points.ts). */
  faults?: FaultPoints;
}

/**
 * Opens the raft state, then the backend. Throws DataDirLockedError when another process
 * holds the WAL or the page file; whatever it opened is closed again when it throws.
 */
export async function openMemberStorage(
  cfg: ServerConfig,
  opts: StorageOptions,
): Promise<MemberStorage> {
  const clock = opts.clock ?? new RealClock();
  const tokens = await jwtProviderFor(cfg, clock);
  const disk = opts.disk ?? new RealDisk();
  const paths = memberPaths(cfg);
  const log = asLogger(opts.log, () => stderrLogger(cfg.logLevel)).named("server/bootstrap");
  const snapshotter = new Snapshotter(disk, paths.snap, {
    maxSnapFiles: cfg.maxSnapshots,
    metrics: opts.metrics?.snap,
  });
  let booted: BootedRaft;
  try {
    booted = await bootstrapRaft(cfg, disk, snapshotter, {
      walSegmentBytes: opts.walSegmentBytes,
      log,
      clock,
      fetchMembers: opts.fetchMembers,
      walMetrics: opts.metrics?.wal,
      faults: opts.faults,
    });
  } catch (err) {
    if (err instanceof WalLockedError) {
      throw new DataDirLockedError(cfg.dataDir, "the WAL", { cause: err });
    }
    throw err;
  }
  const open = () =>
    openBackend(disk, paths.db, {
      batchInterval: cfg.backendBatchIntervalMs,
      batchLimit: cfg.backendBatchLimit,
      clock: opts.clock,
      metrics: opts.metrics?.backend,
      defrag: opts.backendDefrag,
      faults: opts.faults,
    });
  try {
    const opening = clock.now();
    let backend = await open();
    // etcd's recoverSnapshotBackend: the raft snapshot is newer than the page file when the
    // member stopped between saving a received snapshot and moving its db into place (a
    // rename not yet durable): that db, kept as <index>.snap.db, becomes the backend
    // (found by the whole-cluster simulation: a power loss during a slow directory sync)
    const received = snapshotter.dbPath(booted.applied);
    if (booted.applied > storedConsistentIndex(backend) && await disk.exists(received)) {
      await backend.close();
      await disk.rename(received, paths.db);
      await disk.syncDir(paths.snap);
      backend = await open();
      log.warn("recovered the backend from the snapshot's db", {
        "snapshot-index": booted.applied,
      });
    } else if (booted.applied > storedConsistentIndex(backend)) {
      // booting from the raft snapshot would skip the entries between the page file's index
      // and the snapshot's: refuse, as etcd does ("failed to find database snapshot file")
      // rather than diverge (docs/testing.md, finding 10)
      const ci = storedConsistentIndex(backend);
      await backend.close();
      throw new Error(
        `concord: the backend's consistent index ${ci} is behind the raft snapshot at ` +
          `${booted.applied} and ${received} is missing`,
      );
    }
    log.info("opened backend db", {
      path: paths.db,
      "size-bytes": backend.stats().fileBytes,
      "size-in-use-bytes": backend.stats().inUseBytes,
      took: tookField(clock.now() - opening),
    });
    return { booted, backend, snapshotter, disk, clock, tokens };
  } catch (err) {
    await booted.wal.close();
    if (err instanceof LockedError) {
      throw new DataDirLockedError(cfg.dataDir, "the backend file", { cause: err });
    }
    throw err;
  }
}
