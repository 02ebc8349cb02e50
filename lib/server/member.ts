/**
 * One Concord member: wires the raft loop (raft, WAL, snapshots, transport), the applier and
 * the applied state (MVCC, lessor, auth, alarms, membership, all in one backend), the waits of
 * proposers and linearizable readers, and the watch hub, and is the face the API calls.
 * A single member is a cluster of one; with peers, the transport carries raft's messages and
 * the leader's snapshots, and everything else is the same.
 *
 * Data dir layout (as etcd's): `<data-dir>/member/wal` (or --wal-dir), `<data-dir>/member/snap`
 * (raft snapshot files) and `<data-dir>/member/snap/db` (the backend page file).
 */
import { create } from "@bufbuild/protobuf";
import { Errors } from "../base/errors.ts";
import type { Snapshot } from "../base/raftpb.ts";
import { Rand } from "../base/rand.ts";
import type { ClusterId, MemberId } from "../base/types.ts";
import { asLogger, type Logger, stderrLogger } from "../base/log.ts";
import type { Clock } from "../io/clock.ts";
import type { Disk } from "../io/disk.ts";
import type { Backend } from "../backend/backend.ts";
import type { BatchBackend } from "../backend/batch_backend.ts";
import type { OnlineDefragOptions } from "../backend/online_defrag.ts";
import type { Wal } from "../wal/wal.ts";
import { Snapshotter } from "../snap/snapshotter.ts";
import { type Message, type Node, RawNode, type SoftState, StateType } from "../raft/mod.ts";
import { type MvccStore } from "../mvcc/kv_store.ts";
import { WatchHub } from "../mvcc/watch_hub.ts";
import { type Lessor, minLeaseTtlSeconds } from "../lease/lessor.ts";
import { type ResponseHeader, ResponseHeaderSchema } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { ServerConfig } from "./config.ts";
import type { AuthStore } from "../auth/store.ts";
import type { AuthInfo } from "../auth/store.ts";
import type { TokenProvider } from "./token.ts";
import { SimpleTokenProvider } from "./token_simple.ts";
import type { AlarmStore } from "./alarms.ts";
import type { Compactor } from "./compactor.ts";
import { formatId } from "./member_id.ts";
import { MemberReconfig } from "./member_reconfig.ts";
import { LeaderTransfer } from "./leader_transfer.ts";
import { MemberEvents } from "./member_events.ts";
import { type Applied, type AppliedFor, Applier } from "./applier.ts";
import { ServerState } from "./state.ts";
import { importLegacyMembership, type MemberRecord, type Membership } from "./membership.ts";
import { Waits } from "./waits.ts";
import { ReadRounds } from "./read_rounds.ts";
import { RaftLoop } from "./raft_loop.ts";
import type { ServerMetrics } from "./server_metrics.ts";
import { openBackendStream } from "./snapshot_stream.ts";
import { installSnapshot } from "./snapshot_install.ts";
import { applyBatch, type MemberApplyHost } from "./member_apply.ts";
import { InstallGate } from "./install_gate.ts";
import type { LeaseTimeToLive } from "../lease/lessor.ts";
import { type MemberStorage, openMemberStorage } from "./member_storage.ts";
import { LateTransport, type TransportFactory } from "./late_transport.ts";
import { bootMember } from "./member_boot.ts";
import type { MemberOptions, Proposal } from "./member_options.ts";
import { MemberLeases } from "./member_leases.ts";
import { MemberProposals } from "./member_proposals.ts";
import { MemberFate } from "./member_fate.ts";
import { statusOf } from "./member_status.ts";
import { answerPeerCall, type PeerCallTargets } from "./member_calls.ts";
import type { SnapshotSource, Transport } from "../transport/transport.ts";

export type { Applied, AppliedFor } from "./applier.ts";
export { memberPaths } from "./bootstrap.ts";
export { SNAPSHOT_CATCH_UP_ENTRIES } from "./raft_loop.ts";

export { DataDirLockedError } from "./member_storage.ts";
export type { TransportFactory } from "./late_transport.ts";
export type { MemberOptions, Proposal } from "./member_options.ts";

/** A running member. Create with `Member.start`, end with `stop`. */
export class Member {
  readonly config: ServerConfig;
  readonly id: MemberId;
  readonly clusterId: ClusterId;
  readonly hub: WatchHub;
  /** The tokens Authenticate issued (simple tokens live in this member's memory). */
  readonly tokens: TokenProvider;
  #state: ServerState;
  readonly #loop: RaftLoop;
  readonly #applier: Applier;
  readonly #waits: Waits<Applied>;
  readonly #reads: ReadRounds;
  readonly #wal: Wal;
  readonly #snapshotter: Snapshotter;
  readonly #backendDefrag: OnlineDefragOptions | undefined;
  readonly #disk: Disk;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #events: MemberEvents;
  readonly #timeoutMs: number;
  readonly #leases: MemberLeases;
  readonly #proposals: MemberProposals;
  readonly #minLeaseTtl: number;
  #compactor: Compactor | null = null;
  #stopped = false;
  #leader = false;
  #lead: MemberId = 0n;
  #leaderChanges = 0;
  readonly #transfers: LeaderTransfer;
  readonly #reconfig: MemberReconfig;
  /** Starts the peer transport when a cluster of one grows. */
  readonly #lateTransport: LateTransport;
  /** Members a joining member learned from its peers at bootstrap (boot adds them as peers). */
  readonly #joinedPeers: MemberRecord[];
  readonly #metrics: ServerMetrics;
  /** Reads wait here while a snapshot install has the store closed. */
  readonly #installGate: InstallGate;
  /** What the apply of committed entries (member_apply.ts) drives of this member. */
  readonly #applyHost: MemberApplyHost;
  /** Resolves when the member first knows a leader (itself, with one member). */
  readonly ready: Promise<void>;
  #markReady!: () => void;
  /**
   * Resolves once this member's name and client URLs are part of the replicated membership
   * (etcd's ReadyNotify: a quorum has seen this member start).
   */
  readonly published: Promise<void>;
  #markPublished!: () => void;
  /**
   * Resolves when this member learns it was removed from the cluster (it has stopped serving;
   * `concord serve` then exits, as etcd does).
   */
  readonly removed: Promise<void>;
  /**
   * Resolves with the error when this member stops serving after a fatal error (a WAL or
   * backend commit that failed: a full disk); `concord serve` then exits non-zero, as etcd
   * exits on a failed bbolt commit.
   */
  readonly failed: Promise<unknown>;
  /** Its failure and removal (member_fate.ts). */
  readonly #fate: MemberFate;

  private constructor(config: ServerConfig, storage: MemberStorage, opts: MemberOptions) {
    const { booted, backend, snapshotter, disk } = storage;
    this.config = config;
    this.id = booted.id;
    this.clusterId = booted.clusterId;
    this.#wal = booted.wal;
    this.#snapshotter = snapshotter;
    this.#backendDefrag = opts.backendDefrag;
    this.#disk = disk;
    this.#clock = storage.clock;
    this.#joinedPeers = booted.joinedPeers;
    this.#log = asLogger(opts.log, () => stderrLogger(config.logLevel)).named("server/member");
    this.#events = new MemberEvents(
      this.#log,
      booted.clusterId,
      booted.id,
      config.warningApplyDurationMs ?? 100,
    );
    this.#timeoutMs = opts.requestTimeoutMs ?? 5000 + 2 * config.electionTimeoutMs;
    this.#installGate = new InstallGate(this.#clock, this.#timeoutMs);
    this.#metrics = opts.metrics ?? {};
    this.ready = new Promise((r) => (this.#markReady = r));
    this.published = new Promise((r) => (this.#markPublished = r));
    this.#fate = new MemberFate({
      id: this.id,
      clock: this.#clock,
      log: this.#log,
      stopped: () => this.#stopped,
      stopServing: () => {
        this.#waits.close(Errors.stopped());
        this.#reads.close(Errors.stopped());
        this.#transfers.close(Errors.stopped());
        this.#installGate.close(Errors.stopped());
        this.hub.close();
      },
    });
    this.removed = this.#fate.removed;
    this.failed = this.#fate.failed;
    const electionTicks = Math.max(
      2,
      Math.round(config.electionTimeoutMs / config.heartbeatIntervalMs),
    );
    this.#minLeaseTtl = minLeaseTtlSeconds(electionTicks, config.heartbeatIntervalMs);
    this.#state = this.#openState(backend);
    importLegacyMembership(this.#state.membership, booted.snapshotData);
    this.hub = new WatchHub(this.#state.store, {
      clock: this.#clock,
      events: this.#metrics.watchEvents,
      faults: opts.faults,
    });
    this.tokens = storage.tokens ??
      new SimpleTokenProvider(this.#clock, config.authTokenTtlSeconds);
    this.#leases = new MemberLeases({
      id: this.id,
      startedAtMs: this.#clock.wallNow(),
      timeoutMs: this.#timeoutMs,
      electionTimeoutMs: config.electionTimeoutMs,
      clock: this.#clock,
      lessor: () => this.lessor,
      isLeader: () => this.isLeader,
      term: () => this.term,
      leader: () => this.leader,
      transport: () => this.transport,
      propose: (p) => this.propose(p),
      expired: this.#metrics.leaseExpired,
      testOnlyBug: opts.testOnlyLeaseBug,
    });
    this.#waits = new Waits<Applied>(booted.applied, this.#metrics.proposalsFailed);
    this.#applier = new Applier({
      state: () => this.#state,
      tokens: this.tokens,
      maxTxnOps: config.maxTxnOps,
    });
    const seed = opts.raftSeed ??
      (Number(this.id & 0x7fff_ffffn) ^ (this.#clock.wallNow() % 0x7fff_ffff));
    const raw = new RawNode({
      id: this.id,
      storage: booted.storage,
      rand: new Rand(seed),
      electionTick: electionTicks,
      heartbeatTick: 1,
      applied: booted.applied,
      checkQuorum: true,
      preVote: true,
    });
    const calls: PeerCallTargets = {
      promoteHere: (id) => this.#reconfig.promoteHere(id),
      removedBy: (from) =>
        this.#fate.removedFromCluster(`peer ${formatId(from)} applied its removal`),
      members: () => this.membership.list(),
      status: async () => {
        if (this.applyingSnapshot) await this.storeReady(); // the old backend is closed
        return statusOf(this);
      },
      lessor: () => this.lessor,
      leasesPromoted: () => this.#leases.whenPromoted(),
    };
    this.#loop = new RaftLoop({
      id: this.id,
      clusterId: this.clusterId,
      raw,
      storage: booted.storage,
      wal: booted.wal,
      snapshotter,
      clock: this.#clock,
      heartbeatMs: config.heartbeatIntervalMs,
      snapshotCount: config.snapshotCount,
      snapshotIndex: booted.applied,
      catchUpEntries: opts.snapshotCatchUpEntries,
      log: asLogger(opts.log, () => stderrLogger(config.logLevel)).named("server/raft"),
      heartbeatSendFailures: this.#metrics.heartbeatSendFailures,
      testOnlyAckBeforeFsync: opts.testOnlyAckBeforeFsync,
      faults: opts.faults,
      hooks: {
        apply: (b) => applyBatch(this.#applyHost, b),
        readStates: (rs) => this.#reads.confirmed(rs),
        softState: (s) => this.#softState(s),
        tick: () => this.#waits.expire(this.#clock.now()),
        fail: (err) => this.#fate.fail(err),
        commitBackend: () => this.#state.backend.commit(),
        isRemoved: (id) => this.#state.membership.isRemoved(id),
        validateConfChange: (cc, index) => this.#reconfig.validate(cc, index),
        removed: (by) => this.#fate.removedFromCluster(`peer ${formatId(by)} refused it`),
        openSnapshot: (m) => this.#openSnapshot(m),
        handleCall: (from, method, body) => answerPeerCall(calls, from, method, body),
      },
    });
    this.#proposals = new MemberProposals({
      id: this.id,
      config,
      clock: this.#clock,
      timeoutMs: this.#timeoutMs,
      waits: this.#waits,
      loop: this.#loop,
      backend: () => this.#state.backend,
      running: () => this.#running,
    });
    this.#reads = new ReadRounds({
      clock: this.#clock,
      timeoutMs: this.#timeoutMs,
      readIndex: (ctx) => {
        this.#loop.node.readIndex(ctx);
        this.#loop.drive();
      },
      waitApplied: (index) => this.#waits.waitApplied(index),
      nextId: () => this.#proposals.nextRequestId(),
      failed: this.#metrics.readIndexesFailed,
      slow: this.#metrics.slowReadIndexes,
    });
    this.#transfers = new LeaderTransfer({
      id: this.id,
      clock: this.#clock,
      isLeader: () => this.isLeader,
      leader: () => this.leader,
      members: () => this.#state.membership.list(),
      transport: () => this.#loop.transport,
      transferLeader: (target) => {
        this.#loop.node.transferLeader(target);
        this.#loop.drive();
      },
    });
    this.#reconfig = new MemberReconfig({
      id: this.id,
      config,
      clock: this.#clock,
      timeoutMs: this.#timeoutMs,
      loop: this.#loop,
      waits: this.#waits,
      isLeader: () => this.isLeader,
      leader: () => this.leader,
      state: () => this.#state,
      nextRequestId: () => this.#proposals.nextRequestId(),
      checkRunning: () => {
        if (!this.#running) throw Errors.stopped();
      },
      linearizableRead: () => this.linearizableRead(),
      removed: (why) => this.#fate.removedFromCluster(why),
      needTransport: () => this.#lateTransport.start(),
      events: this.#events,
      metrics: this.#metrics,
    });
    this.#applyHost = {
      clock: this.#clock,
      applier: this.#applier,
      waits: this.#waits,
      reconfig: this.#reconfig,
      leases: this.#leases,
      events: this.#events,
      metrics: this.#metrics,
      installGate: this.#installGate,
      state: () => this.#state,
      installSnapshot: (snap) => this.#installSnapshot(snap),
      maybeSnapshot: (applied) => this.#loop.maybeSnapshot(applied),
    };
    this.#lateTransport = new LateTransport({
      id: this.id,
      clock: this.#clock,
      log: this.#log,
      host: this.#loop,
      current: () => this.#loop.transport,
      install: (t) => this.#loop.setTransport(t),
      members: () => this.#state.membership.list(),
      running: () => this.#running,
    });
  }

  #openState(backend: Backend & BatchBackend): ServerState {
    return new ServerState(backend, {
      clock: this.#clock,
      minLeaseTtl: this.#minLeaseTtl,
      onLeasesExpired: (ids) => this.#leases.revokeExpired(ids),
      onLeaseCheckpoint: (batch) => this.#leases.checkpoint(batch),
      metrics: this.#metrics,
      onBackendFailure: (err) => this.#fate.fail(err),
      compactionBatchLimit: this.config.compactionBatchLimit,
    });
  }

  /**
   * Boots a member: a new cluster when the WAL does not exist (ids derived as etcd derives
   * them, the initial membership written as the first WAL entries), or a restart from the
   * newest snapshot and the WAL. Throws DataDirLockedError when another process holds the
   * data dir, and ConfigError when the cluster has other members but no transport was given.
   */
  static async start(cfg: ServerConfig, opts: MemberOptions = {}): Promise<Member> {
    const member = new Member(cfg, await openMemberStorage(cfg, opts), opts);
    try {
      await member.#boot(opts.transport, member.#joinedPeers);
    } catch (err) {
      await member.stop();
      throw err;
    }
    return member;
  }

  #boot(transport: TransportFactory | undefined, joinedPeers: MemberRecord[]): Promise<void> {
    return bootMember(
      {
        id: this.id,
        clusterId: this.clusterId,
        config: this.config,
        clock: this.#clock,
        log: this.#log,
        loop: this.#loop,
        lateTransport: this.#lateTransport,
        ready: this.ready,
        state: () => this.#state,
        isLeader: () => this.isLeader,
        describe: () => this.describe(),
        propose: (p) => this.propose(p),
        running: () => this.#running,
        compactorStarted: (c) => (this.#compactor = c),
        published: () => this.#markPublished(),
      },
      transport,
      joinedPeers,
    );
  }

  /** Neither stopped nor failed. */
  get #running(): boolean {
    return !this.#stopped && this.#fate.fatal === null;
  }

  // --- membership changes (etcd's Cluster service; member_reconfig.ts) ---

  /**
   * etcd's MemberAdd: the id derived from the peer URLs and the time (as etcd does for a
   * member added at run time); refused when the strict reconfig check fails.
   */
  addMember(
    peerURLs: string[],
    isLearner: boolean,
  ): Promise<{ member: MemberRecord; members: MemberRecord[] }> {
    return this.#reconfig.addMember(peerURLs, isLearner);
  }

  /** etcd's MemberRemove. */
  removeMember(id: MemberId): Promise<MemberRecord[]> {
    return this.#reconfig.removeMember(id);
  }

  /** etcd's MemberUpdate: new peer URLs for a member. */
  updateMember(id: MemberId, peerURLs: string[]): Promise<MemberRecord[]> {
    return this.#reconfig.updateMember(id, peerURLs);
  }

  /** etcd's MemberPromote: a caught-up learner becomes a voter (asked of the leader). */
  promoteMember(id: MemberId): Promise<MemberRecord[]> {
    return this.#reconfig.promoteMember(id);
  }

  /**
   * Installs the leader's snapshot (etcd's applySnapshot): the page file the transport stored
   * as `<index>.snap.db` becomes the backend, and the store, lessor, auth, alarms and
   * membership are reopened over it; watchers catch up from the new store's history.
   */
  async #installSnapshot(snap: Snapshot): Promise<void> {
    this.#state = await installSnapshot(
      {
        id: this.id,
        config: this.config,
        disk: this.#disk,
        clock: this.#clock,
        snapshotter: this.#snapshotter,
        transport: this.#loop.transport,
        log: this.#log,
        backendMetrics: this.#metrics.backend,
        backendDefrag: this.#backendDefrag,
        openState: (backend) => {
          const state = this.#openState(backend);
          this.hub.restore(state.store);
          return state;
        },
      },
      this.#state,
      snap,
    );
  }

  /** A consistent copy of the page file, streamed to a follower through the pipeline. */
  #openSnapshot(_m: Message): Promise<SnapshotSource> {
    return openBackendStream(this.#state.backend);
  }

  /** The member's clock (the simulation's in a simulated cluster): durations it logs. */
  get clock(): Clock {
    return this.#clock;
  }

  /** The member's logger, for the layers above that act on it (defragmentation). */
  get log(): Logger {
    return this.#log;
  }

  // --- the applied state, as the API reads it ---

  get backend(): Backend & BatchBackend {
    return this.#state.backend;
  }
  get store(): MvccStore {
    return this.#state.store;
  }
  get lessor(): Lessor {
    return this.#state.lessor;
  }
  /** Users, roles and permissions (replicated through raft like every write). */
  get auth(): AuthStore {
    return this.#state.auth;
  }
  /** Raised alarms (NOSPACE caps writes until disarmed). */
  get alarms(): AlarmStore {
    return this.#state.alarms;
  }
  /** The cluster's members, as the applied log defines them. */
  get membership(): Membership {
    return this.#state.membership;
  }
  /** The raft driver (status pages and tests). */
  get node(): Node {
    return this.#loop.node;
  }
  /** The peer transport, null for a cluster of one. */
  get transport(): Transport | null {
    return this.#loop.transport;
  }

  /** Whether a write that costs `cost` bytes fits the quota (checkQuota's test, synchronous). */
  withinQuota(cost: number): boolean {
    return this.#proposals.withinQuota(cost);
  }

  /**
   * The quota check before proposing a write that costs `cost` bytes: past the quota, raise
   * NOSPACE (through raft) and refuse with etcd's "database space exceeded".
   */
  checkQuota(cost: number): Promise<void> {
    return this.#proposals.checkQuota(cost);
  }

  /** The index of the newest raft snapshot, 0 when none was taken. */
  get snapshotIndex(): number {
    return this.#loop.snapshotIndex;
  }

  /**
   * Hands leadership to `target` (etcd's MoveLeader): it must be a voting member; resolves
   * once raft reports it as the leader, or fails with a timeout.
   */
  moveLeader(target: MemberId): Promise<void> {
    return this.#transfers.move(target, this.#timeoutMs);
  }

  /**
   * etcd's TransferLeadership, before a leader stops: hands leadership to the voter connected
   * longest, waiting at most two election timeouts. Resolves with the new leader, or null when
   * there was nothing to hand over (a follower, or no other voter).
   */
  transferLeadershipAway(): Promise<MemberId | null> {
    return this.#transfers.away(2 * this.config.electionTimeoutMs);
  }

  #softState(s: SoftState): void {
    const leader = s.raftState === StateType.Leader;
    if (s.lead !== 0n) this.#markReady();
    this.#transfers.observe(s.lead);
    if (s.lead !== this.#lead) {
      const had = this.#lead;
      this.#lead = s.lead;
      if (s.lead !== 0n) this.#leaderChanges++;
      // proposals in flight may never commit under the new leader (a follower's forwarded
      // proposal is dropped, an old leader's uncommitted tail is overwritten): fail them now
      // with etcd's error rather than let them hang until the request timeout
      if (had !== 0n) this.#waits.failProposals(Errors.leaderChanged());
      this.#events.leader(had, s.lead, this.term);
    }
    if (leader === this.#leader) return;
    this.#leader = leader;
    this.#leases.leadershipChanged(leader); // the lessor is promoted at the term's first entry
  }

  /**
   * Proposes a request through raft and resolves with what its apply produced. `auth` (the
   * proposer's, while auth is enabled) travels with KV writes and lease revokes so the apply
   * checks permissions again in log order.
   */
  propose<P extends Proposal>(p: P, auth?: AuthInfo): Promise<AppliedFor<P["kind"]>> {
    return this.#proposals.propose(p, auth);
  }

  /** etcd's LeaseRenew: the leader's lessor answers, a follower asks the leader. */
  leaseRenew(id: bigint): Promise<number> {
    return this.#leases.renew(id);
  }

  /** `leaseRenew` answered at once when it can be (the leader, a live lease), else undefined. */
  leaseRenewNow(id: bigint): number | undefined {
    return this.#leases.renewNow(id);
  }

  /** etcd's LeaseTimeToLive: remaining TTL as the leader's lessor counts it. */
  leaseTimeToLive(id: bigint, keys: boolean): Promise<LeaseTimeToLive> {
    return this.#leases.timeToLive(id, keys);
  }

  /** A fresh lease id not in use (etcd's idutil-style generator). */
  newLeaseId(): bigint {
    return this.#leases.newId();
  }

  /**
   * Waits until this member may serve a linearizable read: a ReadIndex round confirms the
   * leadership and the applied index reaches the read index. Concurrent callers share rounds.
   */
  linearizableRead(): Promise<void> {
    if (!this.#running) return Promise.reject(Errors.stopped());
    return this.#reads.wait();
  }

  /** Resolves once the applied index reaches `index`; fails when the member stops. */
  waitApplied(index: number): Promise<void> {
    return this.#waits.waitApplied(index);
  }

  /** The last applied raft index. */
  get appliedIndex(): number {
    return this.#waits.appliedIndex;
  }

  /** The raft commit index. */
  get commitIndex(): number {
    return this.#loop.node.raw.raft.raftLog.committed;
  }

  /** The current raft term. */
  get term(): number {
    return this.#loop.node.raw.raft.term;
  }

  /** The leader's id, 0n when none is known. */
  get leader(): MemberId {
    return this.#loop.node.raw.raft.lead;
  }

  /** True when this member leads. */
  get isLeader(): boolean {
    return this.#loop.node.raw.raft.state === StateType.Leader;
  }

  /** Proposals waiting for their apply (etcd_server_proposals_pending). */
  get proposalsPending(): number {
    return this.#waits.pending;
  }

  /** True while a snapshot from the leader is being installed. */
  get applyingSnapshot(): boolean {
    return this.#installGate.installing;
  }

  /**
   * Resolves once no snapshot install has the store closed (at once when none is under way),
   * as etcd's reads wait on the backend's lock; fails with etcd's request timeout, or when the
   * member stops or fails first.
   */
  storeReady(): Promise<void> {
    return this.#installGate.wait();
  }

  /** How many times this member saw a (new) leader (etcd_server_leader_changes_seen_total). */
  get leaderChanges(): number {
    return this.#leaderChanges;
  }

  /** Why the member cannot serve, or null. */
  get failure(): unknown {
    return this.#fate.fatal;
  }

  /** etcd's response header: cluster id, member id, revision and raft term. */
  header(revision: number = this.store.rev()): ResponseHeader {
    return create(ResponseHeaderSchema, {
      clusterId: this.clusterId,
      memberId: this.id,
      revision: BigInt(revision),
      raftTerm: BigInt(this.term),
    });
  }

  /** Names the member in logs as etcd does. */
  describe(): string {
    return `member ${formatId(this.id)} of cluster ${formatId(this.clusterId)}`;
  }

  /**
   * Stops raft, the transport and the lessor, fails every wait, then commits and closes the
   * backend and closes the WAL. Safe to call twice; a member that failed on its backend stops
   * without throwing that failure again.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#fate.cancel();
    this.#compactor?.stop();
    this.#state.lessor.stop();
    this.#leases.close();
    this.#installGate.close(Errors.stopped());
    this.tokens.close();
    this.#waits.close(Errors.stopped());
    this.#reads.close(Errors.stopped());
    this.#transfers.close(Errors.stopped());
    await this.#lateTransport.close();
    await this.#loop.stop();
    this.hub.close();
    try {
      await this.#state.close();
    } catch (err) {
      // the backend's failure that already failed the member (reported by `failure`, `failed`
      // and the log) is not a new error of the stop
      if (err !== this.#fate.fatal) throw err;
    } finally {
      await this.#wal.close();
    }
  }
}
