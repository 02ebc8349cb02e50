/**
 * etcdctl's default `-w simple` format (printer_simple.go): keys and values on their own
 * lines (raw bytes, or `\x..` with --hex), one line per lease, member or endpoint.
 */
import { hex016, hex16, hexBytes, hexId, humanBytes } from "./ctl_gofmt.ts";
import {
  type AlarmResp,
  type AuthStatusResp,
  type CtlOutput,
  type DbStatus,
  type DelResp,
  type EpHashKV,
  type EpHealth,
  type EpStatus,
  type HeaderResp,
  type KeepAliveResp,
  type KV,
  type LeaseGrantResp,
  type LeaseRevokeResp,
  type LeasesResp,
  type MemberAddResp,
  type MemberListResp,
  type Perm,
  type Printer,
  type PutResp,
  type RangeResp,
  type RoleGetResp,
  type RolesResp,
  tables,
  type TimeToLiveResp,
  type TxnResp,
  type UsersResp,
  type WatchResp,
} from "./ctl_print.ts";

const dec = new TextDecoder();
const ALARMS = ["NONE", "NOSPACE", "CORRUPT"];

/** The raw bytes of a Go string written to stdout. */
function raw(b: Uint8Array): string {
  return dec.decode(b);
}

/** clientv3.GetPrefixRangeEnd on a string. */
export function prefixRangeEnd(key: Uint8Array): Uint8Array {
  const end = key.slice();
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.slice(0, i + 1);
    }
  }
  return new Uint8Array([0]);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** `-w simple`. `valueOnly` is get's --print-value-only. */
export class SimplePrinter implements Printer {
  readonly format = "simple";
  valueOnly = false;
  constructor(private readonly o: CtlOutput, private readonly isHex: boolean) {}

  private line(s: string): void {
    this.o.out(s + "\n");
  }

  /** A key or value on its own line: its bytes as they are, or `\x..` with --hex. */
  private bytesLine(b: Uint8Array): void {
    if (this.isHex) this.line(hexBytes(b));
    else {
      this.o.out(b);
      this.o.out("\n");
    }
  }

  private kv(kv: KV): void {
    if (!this.valueOnly) this.bytesLine(kv.key);
    this.bytesLine(kv.value);
  }

  del(r: DelResp): void {
    this.line(String(r.deleted));
    for (const kv of r.prevKvs) this.kv(kv);
  }
  get(r: RangeResp): void {
    for (const kv of r.kvs) this.kv(kv);
  }
  put(r: PutResp): void {
    this.line("OK");
    if (r.prevKv) this.kv(r.prevKv);
  }
  txn(r: TxnResp): void {
    this.line(r.succeeded ? "SUCCESS" : "FAILURE");
    for (const op of r.responses) {
      this.line("");
      const u = op.response;
      if (u.case === "responseDeleteRange") this.del(u.value);
      else if (u.case === "responsePut") this.put(u.value);
      else if (u.case === "responseRange") this.get(u.value);
      else this.line(`unexpected response ${JSON.stringify(u.case ?? null)}`);
    }
  }
  watch(r: WatchResp): void {
    for (const e of r.events) {
      this.line(e.type === 1 ? "DELETE" : "PUT");
      if (e.prevKv) this.kv(e.prevKv);
      if (e.kv) this.kv(e.kv);
    }
  }
  grant(r: LeaseGrantResp): void {
    this.line(`lease ${hex016(r.ID)} granted with TTL(${r.TTL}s)`);
  }
  revoke(id: bigint, _r: LeaseRevokeResp): void {
    this.line(`lease ${hex016(id)} revoked`);
  }
  keepAlive(r: KeepAliveResp): void {
    this.line(`lease ${hex016(r.ID)} keepalived with TTL(${r.TTL})`);
  }
  timeToLive(r: TimeToLiveResp, keys: boolean): void {
    if (r.grantedTTL === 0n && r.TTL === -1n) {
      this.line(`lease ${hex016(r.ID)} already expired`);
      return;
    }
    let txt = `lease ${hex016(r.ID)} granted with TTL(${r.grantedTTL}s), remaining(${r.TTL}s)`;
    if (keys) txt += `, attached keys([${r.keys.map(raw).join(" ")}])`;
    this.line(txt);
  }
  leases(r: LeasesResp): void {
    this.line(`found ${r.leases.length} leases`);
    for (const l of r.leases) this.line(hex016(l.ID));
  }
  alarm(r: AlarmResp): void {
    // %+v of *pb.AlarmMember: its proto compact text form
    for (const a of r.alarms) {
      this.line(`memberID:${a.memberID} alarm:${ALARMS[a.alarm] ?? a.alarm} `);
    }
  }
  memberAdd(r: MemberAddResp): void {
    this.line(
      `Member ${hex16(r.member?.ID ?? 0n)} added to cluster ${hex16(r.header?.clusterId ?? 0n)}`,
    );
  }
  memberRemove(id: bigint, r: MemberListResp): void {
    this.line(`Member ${hex16(id)} removed from cluster ${hex16(r.header?.clusterId ?? 0n)}`);
  }
  memberUpdate(id: bigint, r: MemberListResp): void {
    this.line(`Member ${hex16(id)} updated in cluster ${hex16(r.header?.clusterId ?? 0n)}`);
  }
  memberPromote(id: bigint, r: MemberListResp): void {
    this.line(`Member ${hex16(id)} promoted in cluster ${hex16(r.header?.clusterId ?? 0n)}`);
  }
  memberList(r: MemberListResp): void {
    for (const row of tables.memberList(r)[1]) this.line(row.join(", "));
  }
  endpointHealth(hs: EpHealth[]): void {
    for (const h of hs) {
      if (h.error === "") {
        this.o.err(`${h.ep} is healthy: successfully committed proposal: took = ${h.took}\n`);
      } else {
        this.o.err(`${h.ep} is unhealthy: failed to commit proposal: ${h.error}\n`);
      }
    }
  }
  endpointStatus(ss: EpStatus[]): void {
    for (const row of tables.endpointStatus(ss, humanBytes)[1]) this.line(row.join(", "));
  }
  endpointHashKV(hs: EpHashKV[]): void {
    for (const row of tables.endpointHashKV(hs)[1]) this.line(row.join(", "));
  }
  dbStatus(s: DbStatus): void {
    for (const row of tables.dbStatus(s, humanBytes)[1]) this.line(row.join(", "));
  }
  moveLeader(leader: bigint, target: bigint, _r: HeaderResp): void {
    this.line(`Leadership transferred from ${hexId(leader)} to ${hexId(target)}`);
  }
  roleAdd(role: string, _r: HeaderResp): void {
    this.line(`Role ${role} created`);
  }
  roleGet(role: string, r: RoleGetResp): void {
    this.line(`Role ${role}`);
    const range = (p: Perm) => {
      const key = raw(p.key);
      let s = p.rangeEnd.length === 1 && p.rangeEnd[0] === 0
        ? `\t[${key}, <open ended>`
        : `\t[${key}, ${raw(p.rangeEnd)})`;
      if (sameBytes(prefixRangeEnd(p.key), p.rangeEnd)) s += ` (prefix ${key})`;
      this.line(s);
    };
    const show = (p: Perm) => p.rangeEnd.length === 0 ? this.line(`\t${raw(p.key)}`) : range(p);
    this.line("KV Read:");
    for (const p of r.perm) if (p.permType === 0 || p.permType === 2) show(p);
    this.line("KV Write:");
    for (const p of r.perm) if (p.permType === 1 || p.permType === 2) show(p);
  }
  roleList(r: RolesResp): void {
    for (const role of r.roles) this.line(role);
  }
  roleDelete(role: string, _r: HeaderResp): void {
    this.line(`Role ${role} deleted`);
  }
  roleGrantPermission(role: string, _r: HeaderResp): void {
    this.line(`Role ${role} updated`);
  }
  roleRevokePermission(role: string, key: string, end: string, _r: HeaderResp): void {
    if (end.length === 0) this.line(`Permission of key ${key} is revoked from role ${role}`);
    else if (end !== "\x00") {
      this.line(`Permission of range [${key}, ${end}) is revoked from role ${role}`);
    } else this.line(`Permission of range [${key}, <open ended> is revoked from role ${role}`);
  }
  userAdd(user: string, _r: HeaderResp): void {
    this.line(`User ${user} created`);
  }
  userGet(user: string, r: RolesResp): void {
    this.line(`User: ${user}`);
    this.line("Roles:" + r.roles.map((x) => " " + x).join(""));
  }
  userChangePassword(_r: HeaderResp): void {
    this.line("Password updated");
  }
  userGrantRole(user: string, role: string, _r: HeaderResp): void {
    this.line(`Role ${role} is granted to user ${user}`);
  }
  userRevokeRole(user: string, role: string, _r: HeaderResp): void {
    this.line(`Role ${role} is revoked from user ${user}`);
  }
  userDelete(user: string, _r: HeaderResp): void {
    this.line(`User ${user} deleted`);
  }
  userList(r: UsersResp): void {
    for (const u of r.users) this.line(u);
  }
  authStatus(r: AuthStatusResp): void {
    this.line(`Authentication Status: ${r.enabled}`);
    this.line(`AuthRevision: ${r.authRevision}`);
  }
}
