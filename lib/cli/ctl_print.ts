/**
 * The shapes `concord ctl` prints and the printer interface with etcdctl's `-w` formats
 * (simple, json, fields, table). The shapes are structural subsets of the protobuf-es
 * messages lib/client returns, so responses are printed as they arrive. Printers write to a
 * `CtlOutput`, not to the console, so ctl runs in-process with captured output.
 */
import { CtlExit, Exit } from "./ctl_exit.ts";

/**
 * Where ctl writes: stdout (text, or raw bytes for keys and values, which etcdctl writes as
 * they are, valid UTF-8 or not) and stderr.
 */
export interface CtlOutput {
  out(text: string | Uint8Array): void;
  err(text: string): void;
}

export interface Header {
  clusterId: bigint;
  memberId: bigint;
  revision: bigint;
  raftTerm: bigint;
}

export interface KV {
  key: Uint8Array;
  createRevision: bigint;
  modRevision: bigint;
  version: bigint;
  value: Uint8Array;
  lease: bigint;
}

export interface RangeResp {
  header?: Header;
  kvs: KV[];
  more: boolean;
  count: bigint;
}

export interface PutResp {
  header?: Header;
  prevKv?: KV;
}

export interface DelResp {
  header?: Header;
  deleted: bigint;
  prevKvs: KV[];
}

export type RespOpUnion =
  | { case: "responseRange"; value: RangeResp }
  | { case: "responsePut"; value: PutResp }
  | { case: "responseDeleteRange"; value: DelResp }
  | { case: "responseTxn"; value: TxnResp }
  | { case: undefined; value?: undefined };

export interface TxnResp {
  header?: Header;
  succeeded: boolean;
  responses: { response: RespOpUnion }[];
}

export interface Ev {
  /** 0 PUT, 1 DELETE */
  type: number;
  kv?: KV;
  prevKv?: KV;
}

/** clientv3's WatchResponse as etcdctl sees it. */
export interface WatchResp {
  header?: Header;
  events: Ev[];
  compactRevision: bigint;
  canceled: boolean;
  created: boolean;
  cancelReason: string;
}

export interface LeaseGrantResp {
  header?: Header;
  ID: bigint;
  TTL: bigint;
  error: string;
}

export interface LeaseRevokeResp {
  header?: Header;
}

export interface KeepAliveResp {
  header?: Header;
  ID: bigint;
  TTL: bigint;
}

export interface TimeToLiveResp {
  header?: Header;
  ID: bigint;
  TTL: bigint;
  grantedTTL: bigint;
  keys: Uint8Array[];
}

export interface LeasesResp {
  header?: Header;
  leases: { ID: bigint }[];
}

export interface MemberInfo {
  ID: bigint;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export interface MemberListResp {
  header?: Header;
  members: MemberInfo[];
}

export interface MemberAddResp {
  header?: Header;
  member?: MemberInfo;
  members: MemberInfo[];
}

export interface StatusResp {
  header?: Header;
  version: string;
  dbSize: bigint;
  leader: bigint;
  raftIndex: bigint;
  raftTerm: bigint;
  raftAppliedIndex: bigint;
  errors: string[];
  dbSizeInUse: bigint;
  isLearner: boolean;
}

export interface HashKVResp {
  header?: Header;
  hash: number;
  compactRevision: bigint;
}

export interface AlarmResp {
  header?: Header;
  alarms: { memberID: bigint; alarm: number }[];
}

/** A response with only a header (auth, move-leader, revoke, …). */
export interface HeaderResp {
  header?: Header;
}

/** `auth status` (etcdctl 3.5). */
export interface AuthStatusResp {
  header?: Header;
  enabled: boolean;
  authRevision: bigint;
}

export interface Perm {
  /** 0 READ, 1 WRITE, 2 READWRITE */
  permType: number;
  key: Uint8Array;
  rangeEnd: Uint8Array;
}

export interface RoleGetResp {
  header?: Header;
  perm: Perm[];
}

export interface RolesResp {
  header?: Header;
  roles: string[];
}

export interface UsersResp {
  header?: Header;
  users: string[];
}

/** One endpoint's health (etcdctl's epHealth). */
export interface EpHealth {
  ep: string;
  health: boolean;
  took: string;
  error: string;
}

export interface EpStatus {
  ep: string;
  resp: StatusResp;
}

export interface EpHashKV {
  ep: string;
  resp: HashKVResp;
}

/** A snapshot file's status (etcdctl snapshot status). */
export interface DbStatus {
  hash: number;
  revision: number;
  totalKey: number;
  totalSize: number;
}

/** What each `-w` format implements: etcdctl's printer interface. */
export interface Printer {
  readonly format: string;
  del(r: DelResp): void;
  get(r: RangeResp): void;
  put(r: PutResp): void;
  txn(r: TxnResp): void;
  watch(r: WatchResp): void;
  grant(r: LeaseGrantResp): void;
  revoke(id: bigint, r: LeaseRevokeResp): void;
  keepAlive(r: KeepAliveResp): void;
  timeToLive(r: TimeToLiveResp, keys: boolean): void;
  leases(r: LeasesResp): void;
  memberAdd(r: MemberAddResp): void;
  memberRemove(id: bigint, r: MemberListResp): void;
  memberUpdate(id: bigint, r: MemberListResp): void;
  memberPromote(id: bigint, r: MemberListResp): void;
  memberList(r: MemberListResp): void;
  endpointHealth(hs: EpHealth[]): void;
  endpointStatus(ss: EpStatus[]): void;
  endpointHashKV(hs: EpHashKV[]): void;
  moveLeader(leader: bigint, target: bigint, r: HeaderResp): void;
  alarm(r: AlarmResp): void;
  dbStatus(s: DbStatus): void;
  roleAdd(role: string, r: HeaderResp): void;
  roleGet(role: string, r: RoleGetResp): void;
  roleDelete(role: string, r: HeaderResp): void;
  roleList(r: RolesResp): void;
  roleGrantPermission(role: string, r: HeaderResp): void;
  roleRevokePermission(role: string, key: string, end: string, r: HeaderResp): void;
  userAdd(user: string, r: HeaderResp): void;
  userGet(user: string, r: RolesResp): void;
  userList(r: UsersResp): void;
  userChangePassword(r: HeaderResp): void;
  userGrantRole(user: string, role: string, r: HeaderResp): void;
  userRevokeRole(user: string, role: string, r: HeaderResp): void;
  userDelete(user: string, r: HeaderResp): void;
  authStatus(r: AuthStatusResp): void;
}

/** The error a format gives for a command it does not print (etcdctl's printerUnsupported). */
export function unsupported(format: string): never {
  throw new CtlExit(Exit.BadFeature, `${format} not supported as output format`);
}

/** A printer whose every method refuses; formats override what they support. */
export class UnsupportedPrinter implements Printer {
  constructor(readonly format: string) {}
  del(_r: DelResp): void {
    unsupported(this.format);
  }
  get(_r: RangeResp): void {
    unsupported(this.format);
  }
  put(_r: PutResp): void {
    unsupported(this.format);
  }
  txn(_r: TxnResp): void {
    unsupported(this.format);
  }
  watch(_r: WatchResp): void {
    unsupported(this.format);
  }
  grant(_r: LeaseGrantResp): void {
    unsupported(this.format);
  }
  revoke(_id: bigint, _r: LeaseRevokeResp): void {
    unsupported(this.format);
  }
  keepAlive(_r: KeepAliveResp): void {
    unsupported(this.format);
  }
  timeToLive(_r: TimeToLiveResp, _keys: boolean): void {
    unsupported(this.format);
  }
  leases(_r: LeasesResp): void {
    unsupported(this.format);
  }
  memberAdd(_r: MemberAddResp): void {
    unsupported(this.format);
  }
  memberRemove(_id: bigint, _r: MemberListResp): void {
    unsupported(this.format);
  }
  memberUpdate(_id: bigint, _r: MemberListResp): void {
    unsupported(this.format);
  }
  memberPromote(_id: bigint, _r: MemberListResp): void {
    unsupported(this.format);
  }
  memberList(_r: MemberListResp): void {
    unsupported(this.format);
  }
  endpointHealth(_hs: EpHealth[]): void {
    unsupported(this.format);
  }
  endpointStatus(_ss: EpStatus[]): void {
    unsupported(this.format);
  }
  endpointHashKV(_hs: EpHashKV[]): void {
    unsupported(this.format);
  }
  moveLeader(_leader: bigint, _target: bigint, _r: HeaderResp): void {
    unsupported(this.format);
  }
  alarm(_r: AlarmResp): void {
    unsupported(this.format);
  }
  dbStatus(_s: DbStatus): void {
    unsupported(this.format);
  }
  roleAdd(_role: string, _r: HeaderResp): void {
    unsupported(this.format);
  }
  roleGet(_role: string, _r: RoleGetResp): void {
    unsupported(this.format);
  }
  roleDelete(_role: string, _r: HeaderResp): void {
    unsupported(this.format);
  }
  roleList(_r: RolesResp): void {
    unsupported(this.format);
  }
  roleGrantPermission(_role: string, _r: HeaderResp): void {
    unsupported(this.format);
  }
  roleRevokePermission(_role: string, _key: string, _end: string, _r: HeaderResp): void {
    unsupported(this.format);
  }
  userAdd(_user: string, _r: HeaderResp): void {
    unsupported(this.format);
  }
  userGet(_user: string, _r: RolesResp): void {
    unsupported(this.format);
  }
  userList(_r: UsersResp): void {
    unsupported(this.format);
  }
  userChangePassword(_r: HeaderResp): void {
    unsupported(this.format);
  }
  userGrantRole(_user: string, _role: string, _r: HeaderResp): void {
    unsupported(this.format);
  }
  userRevokeRole(_user: string, _role: string, _r: HeaderResp): void {
    unsupported(this.format);
  }
  userDelete(_user: string, _r: HeaderResp): void {
    unsupported(this.format);
  }
  authStatus(_r: AuthStatusResp): void {
    unsupported(this.format);
  }
}

/** The rows etcdctl's simple and table formats share (printer.go's make*Table). */
export const tables = {
  memberList(r: MemberListResp): [string[], string[][]] {
    const hdr = ["ID", "Status", "Name", "Peer Addrs", "Client Addrs", "Is Learner"];
    const rows = r.members.map((m) => [
      m.ID.toString(16),
      m.name.length === 0 ? "unstarted" : "started",
      m.name,
      m.peerURLs.join(","),
      m.clientURLs.join(","),
      String(m.isLearner),
    ]);
    return [hdr, rows];
  },
  endpointHealth(hs: EpHealth[]): [string[], string[][]] {
    return [
      ["endpoint", "health", "took", "error"],
      hs.map((h) => [h.ep, String(h.health), h.took, h.error]),
    ];
  },
  endpointStatus(ss: EpStatus[], humanBytes: (n: number) => string): [string[], string[][]] {
    const hdr = [
      "endpoint",
      "ID",
      "version",
      "db size",
      "is leader",
      "is learner",
      "raft term",
      "raft index",
      "raft applied index",
      "errors",
    ];
    const rows = ss.map(({ ep, resp }) => {
      const id = resp.header?.memberId ?? 0n;
      return [
        ep,
        id.toString(16),
        resp.version,
        humanBytes(Number(resp.dbSize)),
        String(resp.leader === id),
        String(resp.isLearner),
        String(resp.raftTerm),
        String(resp.raftIndex),
        String(resp.raftAppliedIndex),
        resp.errors.join(", "),
      ];
    });
    return [hdr, rows];
  },
  endpointHashKV(hs: EpHashKV[]): [string[], string[][]] {
    return [["endpoint", "hash"], hs.map((h) => [h.ep, String(h.resp.hash)])];
  },
  dbStatus(s: DbStatus, humanBytes: (n: number) => string): [string[], string[][]] {
    return [
      ["hash", "revision", "total keys", "total size"],
      [[s.hash.toString(16), String(s.revision), String(s.totalKey), humanBytes(s.totalSize)]],
    ];
  },
};
