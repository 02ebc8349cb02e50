/**
 * etcdctl 3.4's `-w json` format (printer_json.go): Go's encoding/json of the response
 * structs etcdctl holds, so field names, order and `omitempty` are gogoproto's json tags
 * (`cluster_id`, `dbSize`, ...), 64-bit integers are JSON numbers, bytes are base64, and
 * clientv3's own wrappers (lease, watch) keep their shapes: embedded headers flattened, Go
 * field names where there is no tag. Only the fields etcd 3.4's protos have are printed.
 */
import { base64, jsonArray, type JsonField, jsonObject, jsonString, omit } from "./ctl_gofmt.ts";
import type {
  AlarmResp,
  AuthStatusResp,
  CtlOutput,
  DbStatus,
  DelResp,
  EpHashKV,
  EpHealth,
  EpStatus,
  Ev,
  HashKVResp,
  Header,
  HeaderResp,
  KeepAliveResp,
  KV,
  LeaseGrantResp,
  LeaseRevokeResp,
  LeasesResp,
  MemberAddResp,
  MemberInfo,
  MemberListResp,
  Perm,
  Printer,
  PutResp,
  RangeResp,
  RoleGetResp,
  RolesResp,
  StatusResp,
  TimeToLiveResp,
  TxnResp,
  UsersResp,
  WatchResp,
} from "./ctl_print.ts";

function headerFields(h: Header): JsonField[] {
  return [
    ["cluster_id", omit.num(h.clusterId)],
    ["member_id", omit.num(h.memberId)],
    ["revision", omit.num(h.revision)],
    ["raft_term", omit.num(h.raftTerm)],
  ];
}

/** *pb.ResponseHeader. */
export function header(h: Header): string {
  return jsonObject(headerFields(h));
}

function hdr(h: Header | undefined): JsonField {
  return ["header", omit.obj(h, header)];
}

/** mvccpb.KeyValue. */
export function kv(k: KV): string {
  return jsonObject([
    ["key", omit.bytes(k.key)],
    ["create_revision", omit.num(k.createRevision)],
    ["mod_revision", omit.num(k.modRevision)],
    ["version", omit.num(k.version)],
    ["value", omit.bytes(k.value)],
    ["lease", omit.num(k.lease)],
  ]);
}

function event(e: Ev): string {
  return jsonObject([
    ["type", omit.num(e.type)],
    ["kv", omit.obj(e.kv, kv)],
    ["prev_kv", omit.obj(e.prevKv, kv)],
  ]);
}

export function rangeResp(r: RangeResp): string {
  return jsonObject([
    hdr(r.header),
    ["kvs", omit.list(r.kvs, kv)],
    ["more", omit.bool(r.more)],
    ["count", omit.num(r.count)],
  ]);
}

export function putResp(r: PutResp): string {
  return jsonObject([hdr(r.header), ["prev_kv", omit.obj(r.prevKv, kv)]]);
}

export function delResp(r: DelResp): string {
  return jsonObject([
    hdr(r.header),
    ["deleted", omit.num(r.deleted)],
    ["prev_kvs", omit.list(r.prevKvs, kv)],
  ]);
}

export function txnResp(r: TxnResp): string {
  const op = (o: TxnResp["responses"][number]): string => {
    const u = o.response;
    let inner: string;
    switch (u.case) {
      case "responseRange":
        inner = jsonObject([["ResponseRange", rangeResp(u.value)]]);
        break;
      case "responsePut":
        inner = jsonObject([["ResponsePut", putResp(u.value)]]);
        break;
      case "responseDeleteRange":
        inner = jsonObject([["ResponseDeleteRange", delResp(u.value)]]);
        break;
      case "responseTxn":
        inner = jsonObject([["ResponseTxn", txnResp(u.value)]]);
        break;
      default:
        inner = "null";
    }
    return jsonObject([["Response", inner]]);
  };
  return jsonObject([
    hdr(r.header),
    ["succeeded", omit.bool(r.succeeded)],
    ["responses", omit.list(r.responses, op)],
  ]);
}

/** clientv3.WatchResponse: untagged Go fields, header by value, nil Events as null. */
export function watchResp(r: WatchResp): string {
  return jsonObject([
    ["Header", header(r.header ?? { clusterId: 0n, memberId: 0n, revision: 0n, raftTerm: 0n })],
    ["Events", jsonArray(r.events.length > 0 ? r.events : null, event)],
    ["CompactRevision", String(r.compactRevision)],
    ["Canceled", String(r.canceled)],
    ["Created", String(r.created)],
  ]);
}

/** A clientv3 struct embedding *pb.ResponseHeader: its fields flattened in front. */
function embedded(h: Header | undefined, rest: JsonField[]): string {
  return jsonObject([...(h ? headerFields(h) : []), ...rest]);
}

function member(m: MemberInfo): string {
  return jsonObject([
    ["ID", omit.num(m.ID)],
    ["name", omit.str(m.name)],
    ["peerURLs", omit.list(m.peerURLs, jsonString)],
    ["clientURLs", omit.list(m.clientURLs, jsonString)],
    ["isLearner", omit.bool(m.isLearner)],
  ]);
}

function membersResp(r: MemberListResp): string {
  return jsonObject([hdr(r.header), ["members", omit.list(r.members, member)]]);
}

function statusResp(r: StatusResp): string {
  return jsonObject([
    hdr(r.header),
    ["version", omit.str(r.version)],
    ["dbSize", omit.num(r.dbSize)],
    ["leader", omit.num(r.leader)],
    ["raftIndex", omit.num(r.raftIndex)],
    ["raftTerm", omit.num(r.raftTerm)],
    ["raftAppliedIndex", omit.num(r.raftAppliedIndex)],
    ["errors", omit.list(r.errors, jsonString)],
    ["dbSizeInUse", omit.num(r.dbSizeInUse)],
    ["isLearner", omit.bool(r.isLearner)],
  ]);
}

function hashKVResp(r: HashKVResp): string {
  return jsonObject([
    hdr(r.header),
    ["hash", omit.num(r.hash)],
    ["compact_revision", omit.num(r.compactRevision)],
  ]);
}

function perm(p: Perm): string {
  return jsonObject([
    ["permType", omit.num(p.permType)],
    ["key", omit.bytes(p.key)],
    ["range_end", omit.bytes(p.rangeEnd)],
  ]);
}

function headerOnly(r: HeaderResp): string {
  return jsonObject([hdr(r.header)]);
}

/** `-w json`. */
export class JsonPrinter implements Printer {
  readonly format = "json";
  constructor(private readonly o: CtlOutput) {}
  private p(json: string): void {
    this.o.out(json + "\n");
  }
  del(r: DelResp): void {
    this.p(delResp(r));
  }
  get(r: RangeResp): void {
    this.p(rangeResp(r));
  }
  put(r: PutResp): void {
    this.p(putResp(r));
  }
  txn(r: TxnResp): void {
    this.p(txnResp(r));
  }
  watch(r: WatchResp): void {
    this.p(watchResp(r));
  }
  grant(r: LeaseGrantResp): void {
    this.p(embedded(r.header, [
      ["ID", String(r.ID)],
      ["TTL", String(r.TTL)],
      ["Error", jsonString(r.error)],
    ]));
  }
  revoke(_id: bigint, r: LeaseRevokeResp): void {
    this.p(headerOnly(r));
  }
  keepAlive(r: KeepAliveResp): void {
    this.p(embedded(r.header, [["ID", String(r.ID)], ["TTL", String(r.TTL)]]));
  }
  timeToLive(r: TimeToLiveResp, _keys: boolean): void {
    this.p(embedded(r.header, [
      ["id", String(r.ID)],
      ["ttl", String(r.TTL)],
      ["granted-ttl", String(r.grantedTTL)],
      ["keys", jsonArray(r.keys.length > 0 ? r.keys : null, (k) => jsonString(base64(k)))],
    ]));
  }
  leases(r: LeasesResp): void {
    this.p(embedded(r.header, [
      ["leases", jsonArray(r.leases, (l) => jsonObject([["id", String(l.ID)]]))],
    ]));
  }
  memberAdd(r: MemberAddResp): void {
    this.p(jsonObject([
      hdr(r.header),
      ["member", omit.obj(r.member, member)],
      ["members", omit.list(r.members, member)],
    ]));
  }
  memberRemove(_id: bigint, r: MemberListResp): void {
    this.p(membersResp(r));
  }
  memberUpdate(_id: bigint, r: MemberListResp): void {
    this.p(membersResp(r));
  }
  memberPromote(_id: bigint, r: MemberListResp): void {
    this.p(membersResp(r));
  }
  memberList(r: MemberListResp): void {
    this.p(membersResp(r));
  }
  endpointHealth(hs: EpHealth[]): void {
    this.p(jsonArray(hs, (h) =>
      jsonObject([
        ["endpoint", jsonString(h.ep)],
        ["health", String(h.health)],
        ["took", jsonString(h.took)],
        ["error", omit.str(h.error)],
      ])));
  }
  endpointStatus(ss: EpStatus[]): void {
    this.p(jsonArray(ss, (s) =>
      jsonObject([
        ["Endpoint", jsonString(s.ep)],
        ["Status", statusResp(s.resp)],
      ])));
  }
  endpointHashKV(hs: EpHashKV[]): void {
    this.p(jsonArray(hs, (h) =>
      jsonObject([
        ["Endpoint", jsonString(h.ep)],
        ["HashKV", hashKVResp(h.resp)],
      ])));
  }
  moveLeader(_leader: bigint, _target: bigint, r: HeaderResp): void {
    this.p(headerOnly(r));
  }
  alarm(r: AlarmResp): void {
    this.p(jsonObject([
      hdr(r.header),
      [
        "alarms",
        omit.list(r.alarms, (a) =>
          jsonObject([
            ["memberID", omit.num(a.memberID)],
            ["alarm", omit.num(a.alarm)],
          ])),
      ],
    ]));
  }
  dbStatus(s: DbStatus): void {
    this.p(jsonObject([
      ["hash", String(s.hash)],
      ["revision", String(s.revision)],
      ["totalKey", String(s.totalKey)],
      ["totalSize", String(s.totalSize)],
    ]));
  }
  roleAdd(_role: string, r: HeaderResp): void {
    this.p(headerOnly(r));
  }
  roleGet(_role: string, r: RoleGetResp): void {
    this.p(jsonObject([hdr(r.header), ["perm", omit.list(r.perm, perm)]]));
  }
  roleDelete(_role: string, r: HeaderResp): void {
    this.p(headerOnly(r));
  }
  roleList(r: RolesResp): void {
    this.p(jsonObject([hdr(r.header), ["roles", omit.list(r.roles, jsonString)]]));
  }
  roleGrantPermission(_role: string, r: HeaderResp): void {
    this.p(headerOnly(r));
  }
  roleRevokePermission(_role: string, _key: string, _end: string, r: HeaderResp): void {
    this.p(headerOnly(r));
  }
  userAdd(_user: string, r: HeaderResp): void {
    this.p(headerOnly(r));
  }
  userGet(_user: string, r: RolesResp): void {
    this.p(jsonObject([hdr(r.header), ["roles", omit.list(r.roles, jsonString)]]));
  }
  userList(r: UsersResp): void {
    this.p(jsonObject([hdr(r.header), ["users", omit.list(r.users, jsonString)]]));
  }
  userChangePassword(r: HeaderResp): void {
    this.p(headerOnly(r));
  }
  userGrantRole(_user: string, _role: string, r: HeaderResp): void {
    this.p(headerOnly(r));
  }
  userRevokeRole(_user: string, _role: string, r: HeaderResp): void {
    this.p(headerOnly(r));
  }
  userDelete(_user: string, r: HeaderResp): void {
    this.p(headerOnly(r));
  }
  authStatus(r: AuthStatusResp): void {
    this.p(jsonObject([
      hdr(r.header),
      ["enabled", omit.bool(r.enabled)],
      ["authRevision", omit.num(r.authRevision)],
    ]));
  }
}
