/**
 * One Concord member: raft over the WAL, the apply loop over the MVCC store and lessor, the
 * waits of proposers and linearizable readers. A single member is a cluster of one: every
 * write goes through raft exactly as it would with peers, so adding the transport later
 * changes nothing here but `send`.
 *
 * Data dir layout (as etcd's): `<data-dir>/member/wal` (or --wal-dir), `<data-dir>/member/snap`
 * (raft snapshot files) and `<data-dir>/member/snap/db` (the backend page file).
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { Errors, EtcdError } from "../base/errors.ts";
import { type Entry, EntryType, type HardState } from "../base/raftpb.ts";
import { Rand } from "../base/rand.ts";
import { type ClusterId, type MemberId, toCounter } from "../base/types.ts";
import type { Clock, Timer } from "../io/clock.ts";
import { type Disk, joinPath } from "../io/disk.ts";
import { RealClock } from "../io/clock.ts";
import { RealDisk } from "../io/real_disk.ts";
import { openBackend } from "../backend/open.ts";
import type { Backend } from "../backend/backend.ts";
import type { BatchBackend } from "../backend/batch_backend.ts";
import { LockedError } from "../backend/errors.ts";
import { Wal } from "../wal/wal.ts";
import { WalLockedError } from "../wal/errors.ts";
import { validSnapshots } from "../wal/inspect.ts";
import { Snapshotter } from "../snap/snapshotter.ts";
import {
  type ApplyBatch,
  ConfChangeType,
  encodeConfChange,
  MemoryStorage,
  Node,
  type PersistBatch,
  ProposalDroppedError,
  RawNode,
  type ReadState,
  type SoftState,
  StateType,
} from "../raft/mod.ts";
import { MvccStore } from "../mvcc/kv_store.ts";
import { applyCompaction, applyDeleteRange, applyPut, applyTxn } from "../mvcc/applier.ts";
import type * as m from "../mvcc/types.ts";
import { WatchHub } from "../mvcc/watch_hub.ts";
import { Lessor, minLeaseTtlSeconds } from "../lease/lessor.ts";
import { kvKeyDeleter } from "../lease/kv_deleter.ts";
import { LeaseIdGenerator } from "../lease/lease_id.ts";
import {
  type AlarmMember,
  type AlarmRequest,
  AlarmRequest_AlarmAction,
  AlarmRequestSchema,
  AlarmType,
  CompactionRequestSchema,
  type LeaseRevokeRequest,
  LeaseRevokeRequestSchema,
  type ResponseHeader,
  ResponseHeaderSchema,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { ConfigError, type ServerConfig } from "./config.ts";
import { type AuthInfo, AuthStore } from "../auth/store.ts";
import { checkDeleteAuth, checkPutAuth, checkRevokeAuth, checkTxnAuth } from "./auth_check.ts";
import type { TokenProvider } from "./token.ts";
import { SimpleTokenProvider } from "./token_simple.ts";
import { JwtTokenProvider } from "./token_jwt.ts";
import { AlarmStore } from "./alarms.ts";
import { costTxn, quotaBytes } from "./quota.ts";
import { type Compactor, startCompactor } from "./compactor.ts";
import { clusterIdFor, formatId, memberIdFor } from "./member_id.ts";
import { decodeRequest, encodeRequest, type InternalRequest, RequestKind } from "./request.ts";
import { compactionFromPb, deleteFromPb, leaseTtlFromPb, putFromPb, txnFromPb } from "./convert.ts";

/** What the apply of one request produced, handed to the proposer waiting on its id. */
export type Applied =
  | { kind: "put"; r: m.PutResponse }
  | { kind: "delete"; r: m.DeleteRangeResponse }
  | { kind: "txn"; r: m.TxnResponse }
  | { kind: "compaction"; r: m.CompactionResponse; done: Promise<void> }
  | { kind: "grant"; id: bigint; ttl: number; revision: number }
  | { kind: "token"; token: Promise<string>; revision: number }
  | { kind: "alarms"; alarms: AlarmMember[]; revision: number }
  | { kind: "revision"; revision: number };

/** A request without its id (the member assigns one). */
export type Proposal = InternalRequest extends infer R
  ? R extends { kind: infer K; req: infer Q } ? { kind: K; req: Q } : never
  : never;

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

/** Seams and knobs of a member; defaults are the real disk and clock. */
export interface MemberOptions {
  disk?: Disk;
  clock?: Clock;
  /** How long a proposer waits for its apply (etcd: 5 s + 2 election timeouts). */
  requestTimeoutMs?: number;
  /** Start-up and fatal-error lines (default: console.error). */
  log?: (line: string) => void;
  /**
   * WAL segment size (default 64 MiB, as etcd). Simulations use small ones, which also makes
   * them cross segment cuts and releases.
   */
  walSegmentBytes?: number;
}

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

interface Waiter {
  resolve: (a: Applied) => void;
  reject: (e: unknown) => void;
  /** Clock time after which the proposer gets etcd's timeout (checked on each tick). */
  deadline: number;
}

interface ReadWaiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * Entries kept in raft's log behind a snapshot, so a slow follower can catch up from the log
 * rather than a snapshot (etcd's snapshotCatchUpEntries).
 */
export const SNAPSHOT_CATCH_UP_ENTRIES = 5000;

/** The raft snapshot's data: the membership (the state outside the backend), as JSON. */
interface SnapshotData {
  members: (MemberAttrs & { id: string })[];
}

/** The member's own description, in the bootstrap conf change's context (JSON). */
interface MemberAttrs {
  name: string;
  peerURLs: string[];
  clientURLs: string[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A running member. Create with `Member.start`, end with `stop`. */
export class Member {
  readonly config: ServerConfig;
  readonly id: MemberId;
  readonly clusterId: ClusterId;
  readonly backend: Backend & BatchBackend;
  readonly store: MvccStore;
  readonly lessor: Lessor;
  readonly hub: WatchHub;
  /** Raised alarms (NOSPACE caps writes until disarmed). */
  readonly alarms: AlarmStore;
  /** Users, roles and permissions (replicated through raft like every write). */
  readonly auth: AuthStore;
  /** The tokens Authenticate issued (simple tokens live in this member's memory). */
  readonly tokens: TokenProvider;
  readonly node: Node;
  readonly #storage: MemoryStorage;
  readonly #wal: Wal;
  readonly #clock: Clock;
  readonly #log: (line: string) => void;
  readonly #timeoutMs: number;
  readonly #leaseIds: LeaseIdGenerator;
  /** Members by id, from applied conf changes (the bootstrap one names this member). */
  readonly members = new Map<MemberId, MemberAttrs>();
  #ticker: Timer | null = null;
  #compactor: Compactor | null = null;
  readonly #snapshotter: Snapshotter;
  /** The index of the newest raft snapshot (0: none). */
  #snapIndex: number;
  #snapshotRun: Promise<void> | null = null;
  #nextReqId: bigint;
  #waiters = new Map<bigint, Waiter>();
  #applied = 0;
  #appliedWaits: { index: number; resolve: () => void }[] = [];
  #readQueue: ReadWaiter[] = [];
  #readRound: { seq: bigint; waiters: ReadWaiter[]; timer: Timer } | null = null;
  #readSeq = 0n;
  #fatal: unknown = null;
  /** The index of the entry being applied (simple tokens are named after it). */
  #applying = 0;
  #stopped = false;
  #leader = false;
  #leaderWaits: { target: MemberId; resolve: () => void }[] = [];
  /** Resolves when the member first knows a leader (itself, with one member). */
  readonly ready: Promise<void>;
  #markReady!: () => void;

  private constructor(
    config: ServerConfig,
    id: MemberId,
    clusterId: ClusterId,
    wal: Wal,
    storage: MemoryStorage,
    applied: number,
    backend: Backend & BatchBackend,
    snapshotter: Snapshotter,
    snapData: Uint8Array | null,
    opts: MemberOptions,
    tokens: TokenProvider | null,
  ) {
    this.config = config;
    this.id = id;
    this.clusterId = clusterId;
    this.#wal = wal;
    this.#storage = storage;
    this.backend = backend;
    this.#clock = opts.clock ?? new RealClock();
    this.#log = opts.log ?? ((l) => console.error(l));
    this.#timeoutMs = opts.requestTimeoutMs ?? 5000 + 2 * config.electionTimeoutMs;
    this.ready = new Promise((r) => (this.#markReady = r));
    const electionTicks = Math.max(
      2,
      Math.round(config.electionTimeoutMs / config.heartbeatIntervalMs),
    );
    this.lessor = new Lessor({
      backend,
      clock: this.#clock,
      minTtl: minLeaseTtlSeconds(electionTicks, config.heartbeatIntervalMs),
      onExpired: (ids) => this.#revokeExpired(ids),
    });
    this.store = MvccStore.open(backend, { leases: this.lessor, clock: this.#clock });
    this.lessor.setKeyDeleter(kvKeyDeleter(this.store));
    this.hub = new WatchHub(this.store, { clock: this.#clock });
    this.auth = new AuthStore(backend);
    this.alarms = new AlarmStore(backend);
    this.tokens = tokens ?? new SimpleTokenProvider(this.#clock, config.authTokenTtlSeconds);
    this.#leaseIds = new LeaseIdGenerator(id, this.#clock.wallNow());
    this.#nextReqId = BigInt(this.#clock.wallNow()) << 16n;
    this.#applied = applied;
    this.#snapshotter = snapshotter;
    this.#snapIndex = applied;
    if (snapData !== null && snapData.length > 0) {
      const data = JSON.parse(decoder.decode(snapData)) as SnapshotData;
      for (const { id, ...attrs } of data.members) this.members.set(BigInt(id), attrs);
    }
    const seed = Number(id & 0x7fff_ffffn) ^ (this.#clock.wallNow() % 0x7fff_ffff);
    const raw = new RawNode({
      id,
      storage,
      rand: new Rand(seed),
      electionTick: electionTicks,
      heartbeatTick: 1,
      applied,
      checkQuorum: true,
      preVote: true,
    });
    this.node = new Node(raw, {
      persist: (b) => this.#persist(b),
      send: () => {
        // one member: raft addresses no peers; the transport plugs in here
      },
      apply: (b) => this.#apply(b),
      readStates: (rs) => this.#readStates(rs),
      softState: (s) => this.#softState(s),
    });
  }

  /**
   * Boots a member: a new cluster of one when the WAL does not exist (ids derived as etcd
   * derives them, the bootstrap membership written as the first WAL entry), or a restart from
   * the newest snapshot and the WAL. Throws DataDirLockedError when another process holds
   * the data dir.
   */
  static async start(cfg: ServerConfig, opts: MemberOptions = {}): Promise<Member> {
    const tokens = await jwtProvider(cfg, opts.clock ?? new RealClock());
    const disk = opts.disk ?? new RealDisk();
    const paths = memberPaths(cfg);
    let wal: Wal;
    const storage = new MemoryStorage();
    let applied = 0;
    let snapData: Uint8Array | null = null;
    const snapshotter = new Snapshotter(disk, paths.snap, { maxSnapFiles: cfg.maxSnapshots });
    let id: MemberId;
    let clusterId: ClusterId;
    try {
      if (!(await Wal.exists(disk, paths.wal))) {
        const peers = (cfg.initialAdvertisePeerUrls.length > 0
          ? cfg.initialAdvertisePeerUrls
          : cfg.listenPeerUrls).map(urlText);
        id = await memberIdFor(peers, cfg.initialClusterToken);
        clusterId = await clusterIdFor([id]);
        await disk.mkdirAll(paths.snap);
        wal = await Wal.create({
          disk,
          dir: paths.wal,
          metadata: { nodeId: id, clusterId },
          segmentSize: opts.walSegmentBytes,
        });
        const attrs: MemberAttrs = {
          name: cfg.name,
          peerURLs: peers,
          clientURLs: cfg.advertiseClientUrls.map(urlText),
        };
        // etcd's bootstrap: the initial membership as committed conf change entries of term 1
        const boot: Entry = {
          index: 1,
          term: 1,
          type: EntryType.ConfChange,
          data: encodeConfChange({
            type: ConfChangeType.AddNode,
            nodeId: id,
            context: encoder.encode(JSON.stringify(attrs)),
          }),
        };
        const hs: HardState = { term: 1, vote: 0n, commit: 1 };
        await wal.save(hs, [boot]);
        storage.append([boot]);
        storage.setHardState(hs);
      } else {
        const snaps = await validSnapshots(disk, paths.wal);
        const known = new Set(snaps.map((s) => `${s.index}/${s.term}`));
        const loaded = await snapshotter.load((index, term) => known.has(`${index}/${term}`));
        const snap = loaded.snapshot;
        const opened = await Wal.open({
          disk,
          dir: paths.wal,
          snapshot: snap ? { index: snap.metadata.index, term: snap.metadata.term } : undefined,
          segmentSize: opts.walSegmentBytes,
        });
        wal = opened.wal;
        if (snap) {
          storage.applySnapshot(snap);
          applied = snap.metadata.index;
          snapData = snap.data;
        }
        storage.setHardState(opened.contents.hardState);
        storage.append(opened.contents.entries);
        id = opened.contents.metadata.nodeId;
        clusterId = opened.contents.metadata.clusterId;
        if (opened.contents.tornTail) {
          (opts.log ?? console.error)(
            `concord: WAL had a torn tail; ${JSON.stringify(opened.contents.tornTail)}`,
          );
        }
      }
    } catch (err) {
      if (err instanceof WalLockedError) {
        throw new DataDirLockedError(cfg.dataDir, "the WAL", { cause: err });
      }
      throw err;
    }
    let backend: Backend & BatchBackend;
    try {
      backend = await openBackend(disk, paths.db, {
        batchInterval: cfg.backendBatchIntervalMs,
        batchLimit: cfg.backendBatchLimit,
        clock: opts.clock,
      });
    } catch (err) {
      await wal.close();
      if (err instanceof LockedError) {
        throw new DataDirLockedError(cfg.dataDir, "the backend file", { cause: err });
      }
      throw err;
    }
    const member = new Member(
      cfg,
      id,
      clusterId,
      wal,
      storage,
      applied,
      backend,
      snapshotter,
      snapData,
      opts,
      tokens,
    );
    await member.#boot();
    return member;
  }

  async #boot(): Promise<void> {
    // replay: raft hands out committed entries after `applied`; the consistent index skips
    // what the backend already holds
    await this.node.process();
    const voters = this.node.raw.confState().voters;
    if (voters.length === 1 && voters[0] === this.id) {
      // alone: no one else can win, so there is no reason to wait an election timeout
      this.node.campaign();
      await this.node.process();
    }
    this.lessor.start();
    this.#compactor = startCompactor(
      this.config.autoCompactionMode,
      this.config.autoCompactionRetention,
      {
        clock: this.#clock,
        rev: () => this.store.rev(),
        isLeader: () => this.isLeader,
        compact: async (rev) => {
          await this.propose({
            kind: RequestKind.Compaction,
            req: create(CompactionRequestSchema, { revision: BigInt(rev) }),
          });
        },
        isCompacted: (err) =>
          err instanceof EtcdError && err.message === Errors.compacted().message,
      },
    );
    this.#ticker = this.#clock.every(this.config.heartbeatIntervalMs, () => {
      if (this.#stopped || this.#fatal !== null) return;
      try {
        this.node.tick();
        this.#expireWaiters();
        this.#drive();
      } catch (err) {
        this.#fail(err);
      }
    });
  }

  #drive(): void {
    this.node.process().catch((err) => this.#fail(err));
  }

  #fail(err: unknown): void {
    if (this.#fatal !== null) return;
    this.#fatal = err;
    this.#log(`concord: member stopped after a fatal error: ${err}`);
    for (const w of this.#waiters.values()) w.reject(Errors.stopped());
    this.#waiters.clear();
  }

  async #persist(b: PersistBatch): Promise<void> {
    if (b.snapshot !== null) {
      throw new Error("concord: receiving a raft snapshot needs the peer transport");
    }
    await this.#wal.save(b.hardState, b.entries);
    if (b.entries.length > 0) this.#storage.append(b.entries);
    if (b.hardState !== null) this.#storage.setHardState(b.hardState);
  }

  #apply(b: ApplyBatch): Promise<void> | void {
    for (const cc of b.confChanges) {
      if (cc.change.type === ConfChangeType.AddNode && cc.change.context.length > 0) {
        const attrs = JSON.parse(decoder.decode(cc.change.context)) as MemberAttrs;
        this.members.set(cc.change.nodeId, attrs);
      } else if (cc.change.type === ConfChangeType.RemoveNode) {
        this.members.delete(cc.change.nodeId);
      }
    }
    const ci = this.store.consistentIndex().index;
    for (const e of b.entries) {
      if (e.index <= ci) continue; // already in the backend: a replay applies nothing twice
      if (e.type !== EntryType.Normal || e.data.length === 0) {
        this.store.setConsistentIndex(e.index, e.term);
        continue;
      }
      this.#applyRequest(e);
    }
    if (b.entries.length > 0) this.#applied = b.entries[b.entries.length - 1].index;
    this.#maybeSnapshot();
    if (this.#appliedWaits.length > 0) {
      const due = this.#appliedWaits.filter((w) => w.index <= this.#applied);
      this.#appliedWaits = this.#appliedWaits.filter((w) => w.index > this.#applied);
      for (const w of due) w.resolve();
    }
  }

  /**
   * Starts a snapshot once --snapshot-count entries were applied since the last one. Applies
   * that land while one is being written are covered by the check when it finishes, so a
   * burst that ends during a snapshot still gets the one it is due.
   */
  #maybeSnapshot(): void {
    if (
      this.#snapshotRun === null && !this.#stopped && this.#fatal === null &&
      this.#applied > this.#snapIndex &&
      this.#applied - this.#snapIndex >= this.config.snapshotCount
    ) {
      this.#snapshotRun = this.#snapshot().then(
        () => {
          this.#snapshotRun = null;
          this.#maybeSnapshot();
        },
        (err) => {
          this.#snapshotRun = null;
          this.#fail(err);
        },
      );
    }
  }

  /** Applies one request entry and its consistent index in one synchronous step. */
  #applyRequest(e: Entry): void {
    let req: InternalRequest;
    try {
      req = decodeRequest(e.data);
    } catch (err) {
      // an entry we cannot read would diverge the state machine: stop rather than guess
      throw new Error(`concord: entry ${e.index} is not a request: ${err}`);
    }
    let out: Applied | undefined;
    let error: unknown = undefined;
    this.#applying = e.index;
    try {
      out = this.#execute(req);
    } catch (err) {
      if (err instanceof EtcdError) error = err;
      else if (err instanceof RangeError) {
        // a request the services should have refused: the same on every member, so it is
        // consumed as a failed request rather than stopping the member
        error = new ConnectError(err.message, Code.InvalidArgument);
      } else throw err;
    }
    this.store.setConsistentIndex(e.index, e.term);
    this.#applying = 0;
    const w = this.#waiters.get(req.id);
    if (w) {
      this.#waiters.delete(req.id);
      if (out !== undefined) w.resolve(out);
      else w.reject(error);
    }
  }

  #execute(r: InternalRequest): Applied {
    if (this.auth.enabled && r.auth !== undefined) this.#checkAuthAtApply(r);
    if (this.alarms.has(AlarmType.NOSPACE)) checkCapped(r);
    switch (r.kind) {
      case RequestKind.Put:
        return { kind: "put", r: applyPut(this.store, putFromPb(r.req)) };
      case RequestKind.DeleteRange:
        return { kind: "delete", r: applyDeleteRange(this.store, deleteFromPb(r.req)) };
      case RequestKind.Txn:
        return {
          kind: "txn",
          r: applyTxn(this.store, txnFromPb(r.req), { maxTxnOps: this.config.maxTxnOps }),
        };
      case RequestKind.Compaction: {
        const { response, done } = applyCompaction(this.store, compactionFromPb(r.req));
        done.catch(() => {}); // a waiter that does not ask for physical never looks
        return { kind: "compaction", r: response, done };
      }
      case RequestKind.LeaseGrant: {
        // etcd lets a negative TTL through (the lessor raises it to the minimum)
        const view = this.lessor.grant(r.req.ID, leaseTtlFromPb(r.req.TTL));
        return { kind: "grant", id: view.id, ttl: view.ttl, revision: this.store.rev() };
      }
      case RequestKind.LeaseRevoke:
        this.lessor.revoke(r.req.ID);
        return { kind: "revision", revision: this.store.rev() };
      case RequestKind.LeaseCheckpoint:
        for (const c of r.req.checkpoints) {
          this.lessor.checkpoint(c.ID, toCounter(c.remainingTTL, "remaining_TTL"));
        }
        return { kind: "revision", revision: this.store.rev() };
      case RequestKind.Alarm:
        return this.#applyAlarm(r.req);
      default:
        return this.#executeAuth(r);
    }
  }

  /**
   * etcd's authApplierV3: with auth enabled, KV writes, lease revokes and auth changes
   * (root only) are checked again
   * when applied, with the proposer's user and auth revision (an older revision is refused
   * with authOldRevision, which clients answer by authenticating again).
   */
  #checkAuthAtApply(r: InternalRequest): void {
    const info: AuthInfo | undefined = r.auth?.revision === 0 ? undefined : r.auth;
    switch (r.kind) {
      case RequestKind.Put:
        checkPutAuth(this.auth, info, r.req);
        break;
      case RequestKind.DeleteRange:
        checkDeleteAuth(this.auth, info, r.req);
        break;
      case RequestKind.Txn:
        checkTxnAuth(this.auth, info, r.req);
        break;
      case RequestKind.LeaseRevoke:
        checkRevokeAuth(this, info, r.req.ID);
        break;
      case RequestKind.AuthEnable:
      case RequestKind.AuthDisable:
      case RequestKind.UserAdd:
      case RequestKind.UserDelete:
      case RequestKind.UserChangePassword:
      case RequestKind.UserGrantRole:
      case RequestKind.UserRevokeRole:
      case RequestKind.RoleAdd:
      case RequestKind.RoleDelete:
      case RequestKind.RoleGrantPermission:
      case RequestKind.RoleRevokePermission:
        // etcd's needAdminPermission
        this.auth.checkAdmin(info);
        break;
    }
  }

  /** etcd's alarm apply: list, raise or clear. */
  #applyAlarm(req: AlarmRequest): Applied {
    let alarms: AlarmMember[] = [];
    switch (req.action) {
      case AlarmRequest_AlarmAction.GET:
        alarms = this.alarms.get(req.alarm);
        break;
      case AlarmRequest_AlarmAction.ACTIVATE:
        if (req.alarm !== AlarmType.NONE) alarms = [this.alarms.activate(req.memberID, req.alarm)];
        break;
      case AlarmRequest_AlarmAction.DEACTIVATE: {
        const m = this.alarms.deactivate(req.memberID, req.alarm);
        if (m) alarms = [m];
        break;
      }
    }
    return { kind: "alarms", alarms, revision: this.store.rev() };
  }

  /**
   * The quota check before proposing a write that costs `cost` bytes: past the quota, raise
   * NOSPACE (through raft) and refuse with etcd's "database space exceeded".
   */
  async checkQuota(cost: number): Promise<void> {
    if (cost === 0) return;
    if (this.backend.stats().fileBytes + cost < quotaBytes(this.config.quotaBackendBytes)) return;
    await this.propose({
      kind: RequestKind.Alarm,
      req: create(AlarmRequestSchema, {
        memberID: this.id,
        action: AlarmRequest_AlarmAction.ACTIVATE,
        alarm: AlarmType.NOSPACE,
      }),
    }).catch(() => {
      // refused either way; the next write tries to raise it again
    });
    throw Errors.noSpace();
  }

  /** The auth requests: each one store mutation (and token bookkeeping). */
  #executeAuth(r: InternalRequest): Applied {
    const a = this.auth;
    switch (r.kind) {
      case RequestKind.AuthEnable:
        a.enable();
        break;
      case RequestKind.AuthDisable:
        a.disable();
        this.tokens.invalidateAll();
        break;
      case RequestKind.Authenticate: {
        // the password was checked before proposing; the user may have gone since
        if (!a.enabled) throw Errors.authNotEnabled();
        try {
          a.userGet(r.req.name);
        } catch {
          throw Errors.authFailed();
        }
        const token = this.tokens.assign(r.req.name, a.revision, r.req.password, this.#applying);
        token.catch(() => {}); // the waiter, if any, sees the failure
        return { kind: "token", token, revision: this.store.rev() };
      }
      case RequestKind.UserAdd:
        a.userAdd(
          r.req.name,
          r.req.options?.noPassword ? { noPassword: true } : { passwordHash: r.req.hashedPassword },
        );
        break;
      case RequestKind.UserDelete:
        a.userDelete(r.req.name);
        this.tokens.invalidateUser(r.req.name);
        break;
      case RequestKind.UserChangePassword:
        a.userChangePassword(r.req.name, r.req.hashedPassword);
        this.tokens.invalidateUser(r.req.name);
        break;
      case RequestKind.UserGrantRole:
        a.userGrantRole(r.req.user, r.req.role);
        break;
      case RequestKind.UserRevokeRole:
        a.userRevokeRole(r.req.name, r.req.role);
        break;
      case RequestKind.RoleAdd:
        a.roleAdd(r.req.name);
        break;
      case RequestKind.RoleDelete:
        a.roleDelete(r.req.role);
        break;
      case RequestKind.RoleGrantPermission: {
        const p = r.req.perm;
        a.roleGrantPermission(r.req.name, {
          permType: (p?.permType ?? 0) as number,
          key: p?.key ?? new Uint8Array(0),
          rangeEnd: p?.rangeEnd ?? new Uint8Array(0),
        });
        break;
      }
      case RequestKind.RoleRevokePermission:
        a.roleRevokePermission(r.req.role, r.req.key, r.req.rangeEnd);
        break;
      default:
        throw new Error(`request kind ${r.kind} has no apply`);
    }
    return { kind: "revision", revision: this.store.rev() };
  }

  /**
   * Takes a raft snapshot at the applied index once --snapshot-count entries were applied
   * since the last: commits the backend (which then holds everything up to that index), saves
   * the snapshot file, records it in the WAL, compacts raft's log (keeping
   * SNAPSHOT_CATCH_UP_ENTRIES), purges old snapshot files and releases the WAL segments
   * before the oldest snapshot kept.
   */
  async #snapshot(): Promise<void> {
    // what the snapshot describes is captured synchronously, at the applied index
    const index = this.#applied;
    const confState = this.node.raw.confState();
    const data: SnapshotData = {
      members: [...this.members].map(([id, a]) => ({ id: id.toString(), ...a })),
    };
    await this.backend.commit();
    const snap = this.#storage.createSnapshot(
      index,
      confState,
      encoder.encode(JSON.stringify(data)),
    );
    await this.#snapshotter.save(snap);
    await this.#wal.saveSnapshot({ index, term: snap.metadata.term, confState });
    const compactTo = index - SNAPSHOT_CATCH_UP_ENTRIES;
    if (compactTo > this.#storage.firstIndex()) this.#storage.compact(compactTo);
    await this.#snapshotter.purge();
    const names = await this.#snapshotter.snapNames();
    const oldest = names.length > 0 ? parseInt(names[0].slice(17, 33), 16) : index;
    await this.#wal.releaseBefore(Math.min(oldest, index));
    this.#snapIndex = index;
  }

  /** The index of the newest raft snapshot, 0 when none was taken. */
  get snapshotIndex(): number {
    return this.#snapIndex;
  }

  /**
   * Hands leadership to `target` (etcd's MoveLeader): it must be a voting member; resolves
   * once raft reports it as the leader, or fails with a timeout.
   */
  moveLeader(target: MemberId): Promise<void> {
    if (!this.isLeader) return Promise.reject(Errors.notLeader());
    if (!this.members.has(target)) return Promise.reject(Errors.badLeaderTransferee());
    if (this.leader === target) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = this.#clock.after(this.#timeoutMs, () => {
        this.#leaderWaits = this.#leaderWaits.filter((w) => w.resolve !== done);
        reject(Errors.timeout());
      });
      const done = () => {
        timer.cancel();
        resolve();
      };
      this.#leaderWaits.push({ target, resolve: done });
      try {
        this.node.transferLeader(target);
      } catch (err) {
        timer.cancel();
        this.#leaderWaits = this.#leaderWaits.filter((w) => w.resolve !== done);
        reject(err);
        return;
      }
      this.#drive();
    });
  }

  #softState(s: SoftState): void {
    const leader = s.raftState === StateType.Leader;
    if (s.lead !== 0n) this.#markReady();
    if (this.#leaderWaits.length > 0) {
      const due = this.#leaderWaits.filter((w) => w.target === s.lead);
      this.#leaderWaits = this.#leaderWaits.filter((w) => w.target !== s.lead);
      for (const w of due) w.resolve();
    }
    if (leader === this.#leader) return;
    this.#leader = leader;
    if (leader) this.lessor.promote(this.config.electionTimeoutMs);
    else this.lessor.demote();
  }

  #revokeExpired(ids: bigint[]): void {
    for (const id of ids) {
      this.propose({ kind: RequestKind.LeaseRevoke, req: revokeReq(id) }).catch(() => {
        // the lessor reports a lease that is still there again after its retry interval
      });
    }
  }

  /**
   * Proposes a request through raft and resolves with what its apply produced. `auth` (the
   * proposer's, while auth is enabled) travels with KV writes and lease revokes so the apply
   * checks permissions again in log order.
   */
  propose(p: Proposal, auth?: AuthInfo): Promise<Applied> {
    if (this.#stopped || this.#fatal !== null) return Promise.reject(Errors.stopped());
    const id = ++this.#nextReqId;
    const data = encodeRequest(
      {
        ...p,
        id,
        ...(auth ? { auth: { username: auth.username, revision: auth.revision } } : {}),
      } as InternalRequest,
    );
    // etcd checks the marshaled raft request against --max-request-bytes before proposing
    // (the API front admits 512 KiB of framing on top for the gRPC message itself)
    if (data.length > this.config.maxRequestBytes) {
      return Promise.reject(Errors.requestTooLarge());
    }
    return new Promise<Applied>((resolve, reject) => {
      // no timer per request: the ticker expires waiters (see #expireWaiters)
      this.#waiters.set(id, { resolve, reject, deadline: this.#clock.now() + this.#timeoutMs });
      try {
        this.node.propose(data);
      } catch (err) {
        this.#waiters.delete(id);
        reject(err instanceof ProposalDroppedError ? Errors.noLeader() : err);
        return;
      }
      this.#drive();
    });
  }

  /**
   * Fails proposals older than the request timeout with etcd's timeout error. Every waiter has
   * the same timeout, so the map's insertion order is deadline order: the scan stops at the
   * first one still in time.
   */
  #expireWaiters(): void {
    const now = this.#clock.now();
    for (const [id, w] of this.#waiters) {
      if (w.deadline > now) break;
      this.#waiters.delete(id);
      w.reject(Errors.timeout());
    }
  }

  /** A fresh lease id not in use (etcd's idutil-style generator). */
  newLeaseId(): bigint {
    return this.#leaseIds.next((id) => this.lessor.exists(id));
  }

  /**
   * Waits until this member may serve a linearizable read: a ReadIndex round confirms the
   * leadership and the applied index reaches the read index. Concurrent callers share rounds.
   */
  linearizableRead(): Promise<void> {
    if (this.#stopped || this.#fatal !== null) return Promise.reject(Errors.stopped());
    return new Promise((resolve, reject) => {
      this.#readQueue.push({ resolve, reject });
      this.#startReadRound();
    });
  }

  #startReadRound(): void {
    if (this.#readRound !== null || this.#readQueue.length === 0) return;
    const waiters = this.#readQueue;
    this.#readQueue = [];
    const seq = ++this.#readSeq;
    const ctx = new Uint8Array(8);
    new DataView(ctx.buffer).setBigUint64(0, seq, false);
    const timer = this.#clock.after(this.#timeoutMs, () => {
      if (this.#readRound?.seq !== seq) return;
      this.#readRound = null;
      for (const w of waiters) w.reject(Errors.timeout());
      this.#startReadRound();
    });
    this.#readRound = { seq, waiters, timer };
    try {
      this.node.readIndex(ctx);
    } catch (err) {
      timer.cancel();
      this.#readRound = null;
      const e = err instanceof ProposalDroppedError ? Errors.noLeader() : err;
      for (const w of waiters) w.reject(e);
      return;
    }
    this.#drive();
  }

  #readStates(states: ReadState[]): void {
    for (const rs of states) {
      const round = this.#readRound;
      if (round === null || rs.context.length !== 8) continue;
      const seq = new DataView(rs.context.buffer, rs.context.byteOffset, 8).getBigUint64(0);
      if (seq !== round.seq) continue;
      round.timer.cancel();
      this.#readRound = null;
      this.waitApplied(rs.index).then(() => {
        for (const w of round.waiters) w.resolve();
      });
      this.#startReadRound();
    }
  }

  /** Resolves once the applied index reaches `index`. */
  waitApplied(index: number): Promise<void> {
    if (this.#applied >= index) return Promise.resolve();
    return new Promise((resolve) => this.#appliedWaits.push({ index, resolve }));
  }

  /** The last applied raft index. */
  get appliedIndex(): number {
    return this.#applied;
  }

  /** The raft commit index. */
  get commitIndex(): number {
    return this.node.raw.raft.raftLog.committed;
  }

  /** The current raft term. */
  get term(): number {
    return this.node.raw.raft.term;
  }

  /** The leader's id, 0n when none is known. */
  get leader(): MemberId {
    return this.node.raw.raft.lead;
  }

  /** True when this member leads. */
  get isLeader(): boolean {
    return this.node.raw.raft.state === StateType.Leader;
  }

  /** Why the member cannot serve, or null. */
  get failure(): unknown {
    return this.#fatal;
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
   * Stops raft and the lessor, fails pending waits, then commits and closes the backend and
   * closes the WAL. Safe to call twice.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#ticker?.cancel();
    this.#compactor?.stop();
    this.lessor.stop();
    this.tokens.close();
    for (const w of this.#waiters.values()) w.reject(Errors.stopped());
    this.#waiters.clear();
    if (this.#readRound) {
      this.#readRound.timer.cancel();
      for (const w of this.#readRound.waiters) w.reject(Errors.stopped());
      this.#readRound = null;
    }
    for (const w of this.#readQueue) w.reject(Errors.stopped());
    this.#readQueue = [];
    try {
      await this.node.process();
    } catch {
      // already reported by #fail
    }
    await this.#snapshotRun;
    this.hub.close();
    await this.store.close();
    await this.backend.close();
    await this.#wal.close();
  }
}

/** etcd's applierV3Capped: with NOSPACE raised, writes that would grow the store fail. */
function checkCapped(r: InternalRequest): void {
  if (
    r.kind === RequestKind.Put || r.kind === RequestKind.LeaseGrant ||
    (r.kind === RequestKind.Txn && costTxn(r.req) > 0)
  ) {
    throw Errors.noSpace();
  }
}

function urlText(u: URL): string {
  // URL adds a trailing slash to bare origins; etcd's urls have none
  return u.href.endsWith("/") && u.pathname === "/" ? u.href.slice(0, -1) : u.href;
}

function revokeReq(id: bigint): LeaseRevokeRequest {
  return create(LeaseRevokeRequestSchema, { ID: id });
}

/**
 * etcd's `--auth-token jwt,…`: reads the key files and imports them (async, hence here rather
 * than in the constructor); null for simple tokens. A key that is missing or does not fit the
 * sign method is a ConfigError naming the flag.
 */
async function jwtProvider(cfg: ServerConfig, clock: Clock): Promise<TokenProvider | null> {
  const t = cfg.authToken;
  if (t.kind !== "jwt") return null;
  const read = async (what: string, path: string | undefined) => {
    if (path === undefined || path === "") return undefined;
    try {
      return await Deno.readFile(path);
    } catch (err) {
      throw new ConfigError(`--auth-token jwt: cannot read ${what} ${path}: ${err}`);
    }
  };
  const privateKey = await read("priv-key", t.privKey);
  const publicKey = await read("pub-key", t.pubKey);
  if (!privateKey && !publicKey) {
    throw new ConfigError("--auth-token jwt needs priv-key= (and pub-key=) or a secret key file");
  }
  try {
    return await JwtTokenProvider.create({
      signMethod: t.signMethod,
      keys: { privateKey, publicKey },
      ttlSeconds: t.ttlSeconds,
      clock,
    });
  } catch (err) {
    throw new ConfigError(
      `--auth-token jwt,sign-method=${t.signMethod}: ${(err as Error).message}`,
    );
  }
}
