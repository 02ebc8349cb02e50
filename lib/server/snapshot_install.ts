/**
 * Installing the leader's snapshot on a follower (etcd's applySnapshot): the page file the
 * transport stored as `<index>.snap.db` replaces the backend, the applied state is reopened
 * over it, and the transport's peers are made to match the snapshot's membership.
 */
import type { MemberId } from "../base/types.ts";
import type { Snapshot } from "../base/raftpb.ts";
import type { Clock } from "../io/clock.ts";
import type { Disk } from "../io/disk.ts";
import { openBackend } from "../backend/open.ts";
import type { Backend } from "../backend/backend.ts";
import type { BackendMetrics, BatchBackend } from "../backend/batch_backend.ts";
import type { OnlineDefragOptions } from "../backend/online_defrag.ts";
import type { Snapshotter } from "../snap/snapshotter.ts";
import type { Transport } from "../transport/transport.ts";
import type { ServerConfig } from "./config.ts";
import type { ServerState } from "./state.ts";
import { memberPaths } from "./bootstrap.ts";
import { formatId } from "./member_id.ts";
import { type Logger, tookField } from "../base/log.ts";

/** What an install reads and replaces. */
export interface SnapshotInstallContext {
  readonly id: MemberId;
  readonly config: ServerConfig;
  readonly disk: Disk;
  readonly clock: Clock;
  readonly snapshotter: Snapshotter;
  readonly transport: Transport | null;
  readonly log: Logger;
  /** Where the reopened backend reports commits and defrags. */
  readonly backendMetrics?: BackendMetrics;
  /** How the reopened backend's online defrag shares the event loop. */
  readonly backendDefrag?: OnlineDefragOptions;
  /** Opens the applied state over a backend (the member's lessor hooks included). */
  openState(backend: Backend & BatchBackend): ServerState;
}

/**
 * Closes `old`, moves the received page file into place (renamed, then the directory
 * synced), opens and returns the new state with its lessor started (and promoted when this
 * member's lessor was primary), and makes the transport's peers those of the new membership.
 */
export async function installSnapshot(
  c: SnapshotInstallContext,
  old: ServerState,
  snap: Snapshot,
): Promise<ServerState> {
  const index = snap.metadata.index;
  const paths = memberPaths(c.config);
  const received = c.snapshotter.dbPath(index);
  if (!(await c.disk.exists(received))) {
    throw new Error(`concord: snapshot at index ${index} arrived without its db file`);
  }
  const started = c.clock.now();
  const wasPrimary = old.lessor.isPrimary;
  // the fault points move to the new backend with everything else
  const faults = old.backend.faults;
  faults?.hit("applyBeforeOpenSnapshot");
  await old.close();
  await c.disk.rename(received, paths.db);
  await c.disk.syncDir(paths.snap);
  const backend = await openBackend(c.disk, paths.db, {
    batchInterval: c.config.backendBatchIntervalMs,
    batchLimit: c.config.backendBatchLimit,
    clock: c.clock,
    metrics: c.backendMetrics,
    defrag: c.backendDefrag,
    faults,
  });
  faults?.hit("applyAfterOpenSnapshot");
  const state = c.openState(backend);
  state.lessor.start();
  if (wasPrimary) state.lessor.promote(c.config.electionTimeoutMs);
  if (c.transport !== null) syncPeers(c.id, c.transport, state);
  await c.snapshotter.releaseDbsBefore(index);
  c.log.info("installed snapshot", {
    "local-member-id": formatId(c.id),
    "snapshot-index": index,
    revision: state.store.rev(),
    took: tookField(c.clock.now() - started),
  });
  return state;
}

/**
 * The transport's peers become the membership's members (etcd removes every peer and adds
 * the snapshot's): new members are added, known ones get their current URLs, and peers no
 * longer in the membership are dropped.
 */
function syncPeers(self: MemberId, t: Transport, state: ServerState): void {
  const members = state.membership.list().filter((m) => m.id !== self);
  const ids = new Set(members.map((m) => m.id));
  for (const p of t.stats()) if (!ids.has(p.id)) t.removePeer(p.id);
  for (const m of members) {
    t.addPeer({ id: m.id, urls: m.peerURLs });
    t.updatePeer({ id: m.id, urls: m.peerURLs });
  }
}
