/**
 * What a member is started with beside its configuration (the seams a simulation replaces:
 * disk, clock, transport, log), and what a proposer hands it: apart from member.ts, which
 * re-exports both, so the member's file keeps to the member.
 */
import type { FaultPoints } from "../base/fault_points.ts";
import type { Logger } from "../base/log.ts";
import type { Clock } from "../io/clock.ts";
import type { Disk } from "../io/disk.ts";
import type { OnlineDefragOptions } from "../backend/online_defrag.ts";
import type { InternalRequest } from "./request.ts";
import type { MembersFetcher } from "./join.ts";
import type { ServerMetrics } from "./server_metrics.ts";
import type { TransportFactory } from "./late_transport.ts";
import type { LeaseBug } from "./member_leases.ts";

/** A request without its id (the member assigns one). */
export type Proposal = InternalRequest extends infer R
  ? R extends { kind: infer K; req: infer Q } ? { kind: K; req: Q } : never
  : never;

/** Seams and knobs of a member; defaults are the real disk and clock. */
export interface MemberOptions {
  disk?: Disk;
  clock?: Clock;
  /** How long a proposer waits for its apply (etcd: 5 s + 2 election timeouts). */
  requestTimeoutMs?: number;
  /**
   * Where the member logs (lib/base/log.ts): a Logger, or a plain line sink (each event as
   * "concord: msg key=value …"). Default: JSON lines at --log-level to stderr.
   */
  log?: Logger | ((line: string) => void);
  /**
   * WAL segment size (default 64 MiB, as etcd). Simulations use small ones, which also makes
   * them cross segment cuts and releases.
   */
  walSegmentBytes?: number;
  /**
   * The peer transport. Required when the cluster has other members (a member given peers
   * never serves as if alone); a cluster of one needs none.
   */
  transport?: TransportFactory;
  /** Seed of raft's randomized election timeouts (default: from the id and the clock). */
  raftSeed?: number;
  /**
   * Entries kept in raft's log behind a snapshot (default SNAPSHOT_CATCH_UP_ENTRIES, etcd's
   * 5,000); tests lower it to make a lagging follower need a snapshot.
   */
  snapshotCatchUpEntries?: number;
  /**
   * How a member started with --initial-cluster-state existing asks a peer for the cluster's
   * members (default: etcd's GET /members over HTTP; the simulation asks its members).
   */
  fetchMembers?: MembersFetcher;
  /** Where the member reports measurements (etcd's metrics; see server_metrics.ts). */
  metrics?: ServerMetrics;
  /**
   * How an online defrag shares the event loop (default: 4 ms slices; a simulation turns
   * slicing off, since slices timed on the real clock made its runs vary from run to run).
   */
  backendDefrag?: OnlineDefragOptions;
  /** A planted bug for the simulation's checkers (RaftLoopOptions.testOnlyAckBeforeFsync). */
  testOnlyAckBeforeFsync?: boolean;
  /** A planted lease bug for the simulation's lease checker (member_leases.ts LeaseBug). */
  testOnlyLeaseBug?: LeaseBug;
  /** Fault points for tests (lib/base/fault_points.ts): the simulation crashes members there. */
  faults?: FaultPoints;
}
