/**
 * How a member finds its raft state at start-up (etcd's bootstrap): a new member of a new
 * cluster writes the initial membership as committed conf change entries 1..n of term 1 (the
 * same entries on every member, in member id order, so their logs agree), with ids derived as
 * etcd derives them from --initial-cluster and --initial-cluster-token; a restarting member
 * loads its newest valid snapshot and replays its WAL.
 */
import { type Entry, EntryType, type HardState, type Snapshot } from "../base/raftpb.ts";
import type { ClusterId, MemberId } from "../base/types.ts";
import { type Logger, tookField } from "../base/log.ts";
import type { FaultPoints } from "../base/fault_points.ts";
import { type Disk, joinPath } from "../io/disk.ts";
import { type Clock, RealClock } from "../io/clock.ts";
import { Wal, type WalMetrics } from "../wal/wal.ts";
import { validSnapshots } from "../wal/inspect.ts";
import type { Snapshotter } from "../snap/snapshotter.ts";
import { ConfChangeType, encodeConfChange, MemoryStorage } from "../raft/mod.ts";
import { ConfigError, type ServerConfig } from "./config.ts";
import { clusterIdFor, memberIdFor } from "./member_id.ts";
import { httpMembersFetcher, joinCluster, type MembersFetcher } from "./join.ts";
import type { MemberRecord } from "./membership.ts";
import { forceNewCluster } from "./force_new_cluster.ts";

const encoder = new TextEncoder();

/** The paths of a member's files under its data dir. */
export function memberPaths(cfg: ServerConfig): { wal: string; snap: string; db: string } {
  const member = joinPath(cfg.dataDir, "member");
  const snap = joinPath(member, "snap");
  return {
    wal: cfg.walDir !== "" ? cfg.walDir : joinPath(member, "wal"),
    snap,
    db: joinPath(snap, "db"),
  };
}

/**
 * The newest snapshot file the WAL records a marker for at or below its last commit (etcd's
 * ValidSnapshotEntries then LoadNewestAvailable), or null. The WAL is first listed only from
 * the segment of the newest snapshot file on (a 2 GiB member's five 64 MiB segments took
 * 1.2 to 1.8 s of CPU to list whole, docs/perf.md "Restart time"); when no snapshot file is
 * usable with what that finds, every segment is listed, as before.
 */
export async function newestValidSnapshot(
  disk: Disk,
  walDir: string,
  snapshotter: Snapshotter,
): Promise<Snapshot | null> {
  const load = async (fromIndex: number) => {
    const snaps = await validSnapshots(disk, walDir, fromIndex);
    const known = new Set(snaps.map((s) => `${s.index}/${s.term}`));
    return (await snapshotter.load((index, term) => known.has(`${index}/${term}`))).snapshot;
  };
  const newest = await snapshotter.newestIndex();
  if (newest > 0) {
    const snap = await load(newest);
    if (snap !== null) return snap;
  }
  return await load(0);
}

/** A URL as etcd writes it: no trailing slash on a bare origin. */
export function urlText(u: URL): string {
  return u.href.endsWith("/") && u.pathname === "/" ? u.href.slice(0, -1) : u.href;
}

/** A member of the initial cluster. */
export interface InitialMember {
  id: MemberId;
  name: string;
  peerURLs: string[];
}

/**
 * The initial cluster's members with etcd's ids, sorted by id, and the cluster id; checks
 * what etcd checks: this member's --initial-advertise-peer-urls are its --initial-cluster
 * entry, and no peer URL is listed twice.
 */
export async function initialCluster(
  cfg: ServerConfig,
): Promise<{ members: InitialMember[]; self: InitialMember; clusterId: ClusterId }> {
  const members: InitialMember[] = [];
  const seen = new Map<string, string>();
  for (const [name, urls] of cfg.initialCluster) {
    const peerURLs = urls.map(urlText);
    for (const u of peerURLs) {
      const other = seen.get(u);
      if (other !== undefined) {
        throw new ConfigError(
          `--initial-cluster: peer URL ${u} is given to both ${other} and ${name}`,
        );
      }
      seen.set(u, name);
    }
    members.push({ id: await memberIdFor(peerURLs, cfg.initialClusterToken), name, peerURLs });
  }
  const self = members.find((m) => m.name === cfg.name);
  if (self === undefined) {
    throw new ConfigError(
      `couldn't find local name "${cfg.name}" in the initial cluster configuration`,
    );
  }
  const advertised = cfg.initialAdvertisePeerUrls.map(urlText).sort();
  const listed = [...self.peerURLs].sort();
  if (advertised.length > 0 && advertised.join(",") !== listed.join(",")) {
    throw new ConfigError(
      `--initial-cluster has ${cfg.name}=${listed.join(",")} but missing from ` +
        `--initial-advertise-peer-urls=${advertised.join(",")} ` +
        `("${advertised.join(",")}"(resolved from "${advertised.join(",")}") != ` +
        `"${listed.join(",")}"(resolved from "${listed.join(",")}"))`,
    );
  }
  members.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const clusterId = await clusterIdFor(members.map((m) => m.id));
  return { members, self, clusterId };
}

/** The conf change context that describes a member (etcd's member JSON, without the id). */
export function memberContext(m: { name: string; peerURLs: string[] }): Uint8Array {
  return encoder.encode(JSON.stringify({ name: m.name, peerURLs: m.peerURLs, clientURLs: [] }));
}

/** The raft state a member starts from. */
export interface Booted {
  id: MemberId;
  clusterId: ClusterId;
  wal: Wal;
  storage: MemoryStorage;
  /** The newest snapshot's index (0: none): raft hands out committed entries after it. */
  applied: number;
  /** The newest snapshot's data (empty; older data dirs kept the membership in it). */
  snapshotData: Uint8Array | null;
  /** True when this start created the WAL (a new cluster). */
  fresh: boolean;
  /**
   * The cluster's members as a running member listed them when this one joined (empty
   * otherwise): the peers to reach before the log has told it anything.
   */
  joinedPeers: MemberRecord[];
}

/** Opens (or creates) the WAL and the raft storage of a member. */
export async function bootstrapRaft(
  cfg: ServerConfig,
  disk: Disk,
  snapshotter: Snapshotter,
  opts: {
    walSegmentBytes?: number;
    log: Logger;
    /** Times the load for the log (default: real time). */
    clock?: Clock;
    /** How a joining member asks its peers for the members (default: HTTP GET /members). */
    fetchMembers?: MembersFetcher;
    /** Where the WAL reports fsync durations and bytes written. */
    walMetrics?: WalMetrics;
    /** Fault points for tests, handed to the WAL (lib/base/fault_points.ts). */
    faults?: FaultPoints;
  },
): Promise<Booted> {
  const paths = memberPaths(cfg);
  const storage = new MemoryStorage();
  if (!(await Wal.exists(disk, paths.wal))) {
    if (cfg.initialClusterState === "existing") {
      return await bootstrapJoin(cfg, disk, storage, opts);
    }
    const { members, self, clusterId } = await initialCluster(cfg);
    await disk.mkdirAll(paths.snap);
    const wal = await Wal.create({
      disk,
      dir: paths.wal,
      metadata: { nodeId: self.id, clusterId },
      segmentSize: opts.walSegmentBytes,
      metrics: opts.walMetrics,
      faults: opts.faults,
    });
    // etcd's bootstrap: the initial membership as committed conf change entries of term 1
    const entries: Entry[] = members.map((m, i) => ({
      index: i + 1,
      term: 1,
      type: EntryType.ConfChange,
      data: encodeConfChange({
        type: ConfChangeType.AddNode,
        nodeId: m.id,
        context: memberContext(m),
      }),
    }));
    const hs: HardState = { term: 1, vote: 0n, commit: entries.length };
    await wal.save(hs, entries);
    opts.log.info("created WAL for a new cluster", {
      "wal-dir": paths.wal,
      "local-member-id": self.id.toString(16),
      "cluster-id": clusterId.toString(16),
      members: members.length,
    });
    storage.append(entries);
    storage.setHardState(hs);
    return {
      id: self.id,
      clusterId,
      wal,
      storage,
      applied: 0,
      snapshotData: null,
      fresh: true,
      joinedPeers: [],
    };
  }
  const loadStarted = (opts.clock ?? new RealClock()).now();
  const snap: Snapshot | null = await newestValidSnapshot(disk, paths.wal, snapshotter);
  const opened = await Wal.open({
    disk,
    dir: paths.wal,
    snapshot: snap ? { index: snap.metadata.index, term: snap.metadata.term } : undefined,
    segmentSize: opts.walSegmentBytes,
    metrics: opts.walMetrics,
    faults: opts.faults,
  });
  if (snap) storage.applySnapshot(snap);
  const hs = opened.contents.hardState;
  opts.log.info("loaded WAL and snapshot", {
    "wal-dir": paths.wal,
    "snapshot-index": snap ? snap.metadata.index : 0,
    "snapshot-term": snap ? snap.metadata.term : 0,
    "wal-entries": opened.contents.entries.length,
    "wal-last-index": opened.contents.entries.at(-1)?.index ?? (snap ? snap.metadata.index : 0),
    term: hs.term,
    commit: hs.commit,
    took: tookField((opts.clock ?? new RealClock()).now() - loadStarted),
  });
  if (opened.contents.tornTail) {
    opts.log.warn("WAL had a torn tail; it was cut at the last whole record", {
      "torn-tail": opened.contents.tornTail,
    });
  }
  let hardState = opened.contents.hardState;
  let entries = opened.contents.entries;
  if (cfg.forceNewCluster) {
    const self = opened.contents.metadata.nodeId;
    const f = forceNewCluster(self, snap, hardState, entries);
    // the forced entries are in the WAL before raft sees them: a crash now restarts the same
    await opened.wal.save(f.hardState, f.forced);
    hardState = f.hardState;
    entries = f.entries;
    opts.log.warn("--force-new-cluster: restarting as a cluster of one", {
      "local-member-id": self.toString(16),
      "removed-member-ids": f.removed.map((id) => id.toString(16)),
      "discarded-uncommitted-entries": f.discarded,
      commit: f.hardState.commit,
    });
  }
  storage.setHardState(hardState);
  storage.append(entries);
  return {
    id: opened.contents.metadata.nodeId,
    clusterId: opened.contents.metadata.clusterId,
    wal: opened.wal,
    storage,
    applied: snap ? snap.metadata.index : 0,
    snapshotData: snap ? snap.data : null,
    fresh: false,
    joinedPeers: [],
  };
}

/**
 * A member joining a running cluster (etcd's --initial-cluster-state existing): its id and
 * the cluster id come from the running members; it writes no entries of its own and starts
 * with an empty log, which the leader fills (by snapshot or from its log).
 */
async function bootstrapJoin(
  cfg: ServerConfig,
  disk: Disk,
  storage: MemoryStorage,
  opts: {
    walSegmentBytes?: number;
    log: Logger;
    fetchMembers?: MembersFetcher;
    walMetrics?: WalMetrics;
    faults?: FaultPoints;
  },
): Promise<Booted> {
  const listed = cfg.initialCluster.get(cfg.name);
  if (listed === undefined) {
    throw new ConfigError(
      `couldn't find local name "${cfg.name}" in the initial cluster configuration`,
    );
  }
  const selfUrls = (cfg.initialAdvertisePeerUrls.length > 0 ? cfg.initialAdvertisePeerUrls : listed)
    .map(urlText);
  const { self, info } = await joinCluster(
    cfg,
    selfUrls,
    opts.fetchMembers ?? httpMembersFetcher(cfg),
  );
  const paths = memberPaths(cfg);
  await disk.mkdirAll(paths.snap);
  const wal = await Wal.create({
    disk,
    dir: paths.wal,
    metadata: { nodeId: self.id, clusterId: info.clusterId },
    segmentSize: opts.walSegmentBytes,
    metrics: opts.walMetrics,
    faults: opts.faults,
  });
  opts.log.info("joining an existing cluster", {
    "cluster-id": info.clusterId.toString(16),
    "local-member-id": self.id.toString(16),
    "members": info.members.length,
  });
  return {
    id: self.id,
    clusterId: info.clusterId,
    wal,
    storage,
    applied: 0,
    snapshotData: null,
    fresh: true,
    joinedPeers: info.members,
  };
}
