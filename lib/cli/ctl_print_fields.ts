/**
 * etcdctl's `-w fields` format (printer_fields.go): one `"Name" : value` line per field,
 * strings in Go's %q quoting. Commands etcdctl's fields printer lacks are refused as it
 * refuses them.
 */
import { goQuote } from "./ctl_gofmt.ts";
import {
  type AlarmResp,
  type CtlOutput,
  type DbStatus,
  type DelResp,
  type EpHashKV,
  type EpHealth,
  type EpStatus,
  type Header,
  type HeaderResp,
  type KeepAliveResp,
  type KV,
  type LeaseGrantResp,
  type LeaseRevokeResp,
  type LeasesResp,
  type MemberListResp,
  type PutResp,
  type RangeResp,
  type RoleGetResp,
  type RolesResp,
  type TimeToLiveResp,
  type TxnResp,
  UnsupportedPrinter,
  type WatchResp,
} from "./ctl_print.ts";
import { CtlExit } from "./ctl_exit.ts";

const ALARMS = ["NONE", "NOSPACE", "CORRUPT"];
const PERMS = ["READ", "WRITE", "READWRITE"];

/** `-w fields`. */
export class FieldsPrinter extends UnsupportedPrinter {
  constructor(private readonly o: CtlOutput) {
    super("fields");
  }
  private line(s: string): void {
    this.o.out(s + "\n");
  }
  private kv(pfx: string, kv: KV): void {
    this.line(`"${pfx}Key" : ${goQuote(kv.key)}`);
    this.line(`"${pfx}CreateRevision" : ${kv.createRevision}`);
    this.line(`"${pfx}ModRevision" : ${kv.modRevision}`);
    this.line(`"${pfx}Version" : ${kv.version}`);
    this.line(`"${pfx}Value" : ${goQuote(kv.value)}`);
    this.line(`"${pfx}Lease" : ${kv.lease}`);
  }
  private hdr(h: Header | undefined): void {
    // etcdctl dereferences the header; a response without one makes it panic
    if (!h) throw new CtlExit(2, "fields printer: response has no header");
    this.line(`"ClusterID" : ${h.clusterId}`);
    this.line(`"MemberID" : ${h.memberId}`);
    this.line(`"Revision" : ${h.revision}`);
    this.line(`"RaftTerm" : ${h.raftTerm}`);
  }
  override del(r: DelResp): void {
    this.hdr(r.header);
    this.line(`"Deleted" : ${r.deleted}`);
    for (const kv of r.prevKvs) this.kv("Prev", kv);
  }
  override get(r: RangeResp): void {
    this.hdr(r.header);
    for (const kv of r.kvs) this.kv("", kv);
    this.line(`"More" : ${r.more}`);
    this.line(`"Count" : ${r.count}`);
  }
  override put(r: PutResp): void {
    this.hdr(r.header);
    if (r.prevKv) this.kv("Prev", r.prevKv);
  }
  override txn(r: TxnResp): void {
    this.hdr(r.header);
    this.line(`"Succeeded" : ${r.succeeded}`);
    for (const op of r.responses) {
      const u = op.response;
      if (u.case === "responseDeleteRange") this.del(u.value);
      else if (u.case === "responsePut") this.put(u.value);
      else if (u.case === "responseRange") this.get(u.value);
      else this.line(`"Unknown" : ${goQuote(String(u.case))}`);
    }
  }
  override watch(r: WatchResp): void {
    this.hdr(r.header ?? { clusterId: 0n, memberId: 0n, revision: 0n, raftTerm: 0n });
    for (const e of r.events) {
      this.line(`"Type" : ${e.type === 1 ? "DELETE" : "PUT"}`);
      if (e.prevKv) this.kv("Prev", e.prevKv);
      if (e.kv) this.kv("", e.kv);
    }
  }
  override grant(r: LeaseGrantResp): void {
    this.hdr(r.header);
    this.line(`"ID" : ${r.ID}`);
    this.line(`"TTL" : ${r.TTL}`);
  }
  override revoke(_id: bigint, r: LeaseRevokeResp): void {
    this.hdr(r.header);
  }
  override keepAlive(r: KeepAliveResp): void {
    this.hdr(r.header);
    this.line(`"ID" : ${r.ID}`);
    this.line(`"TTL" : ${r.TTL}`);
  }
  override timeToLive(r: TimeToLiveResp, _keys: boolean): void {
    this.hdr(r.header);
    this.line(`"ID" : ${r.ID}`);
    this.line(`"TTL" : ${r.TTL}`);
    this.line(`"GrantedTTL" : ${r.grantedTTL}`);
    for (const k of r.keys) this.line(`"Key" : ${goQuote(k)}`);
  }
  override leases(r: LeasesResp): void {
    this.hdr(r.header);
    for (const l of r.leases) this.line(`"ID" : ${l.ID}`);
  }
  override memberList(r: MemberListResp): void {
    this.hdr(r.header);
    for (const m of r.members) {
      this.line(`"ID" : ${m.ID}`);
      this.line(`"Name" : ${goQuote(m.name)}`);
      for (const u of m.peerURLs) this.line(`"PeerURL" : ${goQuote(u)}`);
      for (const u of m.clientURLs) this.line(`"ClientURL" : ${goQuote(u)}`);
      this.line(`"IsLearner" : ${m.isLearner}`);
      this.line("");
    }
  }
  override endpointHealth(hs: EpHealth[]): void {
    for (const h of hs) {
      this.line(`"Endpoint" : ${goQuote(h.ep)}`);
      this.line(`"Health" : ${h.health}`);
      this.line(`"Took" : ${h.took}`);
      this.line(`"Error" : ${h.error}`);
      this.line("");
    }
  }
  override endpointStatus(ss: EpStatus[]): void {
    for (const { ep, resp } of ss) {
      this.hdr(resp.header);
      this.line(`"Version" : ${goQuote(resp.version)}`);
      this.line(`"DBSize" : ${resp.dbSize}`);
      this.line(`"Leader" : ${resp.leader}`);
      this.line(`"IsLearner" : ${resp.isLearner}`);
      this.line(`"RaftIndex" : ${resp.raftIndex}`);
      this.line(`"RaftTerm" : ${resp.raftTerm}`);
      this.line(`"RaftAppliedIndex" : ${resp.raftAppliedIndex}`);
      this.line(`"Errors" : [${resp.errors.join(" ")}]`);
      this.line(`"Endpoint" : ${goQuote(ep)}`);
      this.line("");
    }
  }
  override endpointHashKV(hs: EpHashKV[]): void {
    for (const { ep, resp } of hs) {
      this.hdr(resp.header);
      this.line(`"Endpoint" : ${goQuote(ep)}`);
      this.line(`"Hash" : ${resp.hash}`);
      this.line("");
    }
  }
  override alarm(r: AlarmResp): void {
    this.hdr(r.header);
    for (const a of r.alarms) {
      this.line(`"MemberID" : ${a.memberID}`);
      this.line(`"AlarmType" : ${ALARMS[a.alarm] ?? a.alarm}`);
      this.line("");
    }
  }
  override dbStatus(s: DbStatus): void {
    this.line(`"Hash" : ${s.hash}`);
    this.line(`"Revision" : ${s.revision}`);
    this.line(`"Keys" : ${s.totalKey}`);
    this.line(`"Size" : ${s.totalSize}`);
  }
  override roleAdd(_role: string, r: HeaderResp): void {
    this.hdr(r.header);
  }
  override roleGet(_role: string, r: RoleGetResp): void {
    this.hdr(r.header);
    for (const p of r.perm) {
      this.line(`"PermType" :  ${PERMS[p.permType] ?? p.permType}`);
      this.line(`"Key" : ${goQuote(p.key)}`);
      this.line(`"RangeEnd" : ${goQuote(p.rangeEnd)}`);
    }
  }
  override roleDelete(_role: string, r: HeaderResp): void {
    this.hdr(r.header);
  }
  override roleList(r: RolesResp): void {
    this.hdr(r.header);
    this.line(`"Roles" :` + r.roles.map((x) => " " + goQuote(x)).join(""));
  }
  override roleGrantPermission(_role: string, r: HeaderResp): void {
    this.hdr(r.header);
  }
  override roleRevokePermission(_role: string, _key: string, _end: string, r: HeaderResp): void {
    this.hdr(r.header);
  }
  override userAdd(_user: string, r: HeaderResp): void {
    this.hdr(r.header);
  }
  override userChangePassword(r: HeaderResp): void {
    this.hdr(r.header);
  }
  override userGrantRole(_user: string, _role: string, r: HeaderResp): void {
    this.hdr(r.header);
  }
  override userRevokeRole(_user: string, _role: string, r: HeaderResp): void {
    this.hdr(r.header);
  }
  override userDelete(_user: string, r: HeaderResp): void {
    this.hdr(r.header);
  }
}
