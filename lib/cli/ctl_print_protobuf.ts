/**
 * etcdctl's `-w protobuf` format (printer_protobuf.go): the response message in protobuf's
 * binary encoding, written as it is. clientv3's lease structs are not protobuf messages but
 * embed *pb.ResponseHeader, whose Marshal Go promotes: for grant, keep-alive, timetolive and
 * list etcdctl writes the header alone, and so does this. Revoke and the endpoint/snapshot
 * tables are refused.
 */
import { create, createRegistry, type DescMessage, toBinary } from "@bufbuild/protobuf";
import { file_etcdserverpb_rpc } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import {
  type AlarmResp,
  type CtlOutput,
  type DelResp,
  type HeaderResp,
  type MemberAddResp,
  type MemberListResp,
  type PutResp,
  type RangeResp,
  type RoleGetResp,
  type RolesResp,
  type TxnResp,
  UnsupportedPrinter,
  type UsersResp,
  type WatchResp,
} from "./ctl_print.ts";

const registry = createRegistry(file_etcdserverpb_rpc);

function schema(name: string): DescMessage {
  const s = registry.getMessage(`etcdserverpb.${name}`);
  if (!s) throw new Error(`ctl: no message etcdserverpb.${name}`);
  return s;
}

/** `-w protobuf`. */
export class ProtobufPrinter extends UnsupportedPrinter {
  constructor(private readonly o: CtlOutput) {
    super("protobuf");
  }
  private p(name: string, msg: object): void {
    const s = schema(name);
    this.o.out(toBinary(s, create(s, msg as never)));
  }
  override del(r: DelResp): void {
    this.p("DeleteRangeResponse", r);
  }
  override get(r: RangeResp): void {
    this.p("RangeResponse", r);
  }
  override put(r: PutResp): void {
    this.p("PutResponse", r);
  }
  override txn(r: TxnResp): void {
    this.p("TxnResponse", r);
  }
  override watch(r: WatchResp): void {
    // etcdctl rebuilds a WatchResponse from clientv3's: header, events, compact revision,
    // canceled and created only
    this.p("WatchResponse", {
      header: r.header,
      events: r.events,
      compactRevision: r.compactRevision,
      canceled: r.canceled,
      created: r.created,
    });
  }
  private header(r: HeaderResp): void {
    this.p("ResponseHeader", r.header ?? {});
  }
  override grant(r: HeaderResp): void {
    this.header(r);
  }
  override keepAlive(r: HeaderResp): void {
    this.header(r);
  }
  override timeToLive(r: HeaderResp, _keys: boolean): void {
    this.header(r);
  }
  override leases(r: HeaderResp): void {
    this.header(r);
  }
  override memberAdd(r: MemberAddResp): void {
    this.p("MemberAddResponse", r);
  }
  override memberRemove(_id: bigint, r: MemberListResp): void {
    this.p("MemberRemoveResponse", r);
  }
  override memberUpdate(_id: bigint, r: MemberListResp): void {
    this.p("MemberUpdateResponse", r);
  }
  override memberList(r: MemberListResp): void {
    this.p("MemberListResponse", r);
  }
  override alarm(r: AlarmResp): void {
    this.p("AlarmResponse", r);
  }
  override moveLeader(_leader: bigint, _target: bigint, r: HeaderResp): void {
    this.p("MoveLeaderResponse", r);
  }
  override roleAdd(_role: string, r: HeaderResp): void {
    this.p("AuthRoleAddResponse", r);
  }
  override roleGet(_role: string, r: RoleGetResp): void {
    this.p("AuthRoleGetResponse", r);
  }
  override roleDelete(_role: string, r: HeaderResp): void {
    this.p("AuthRoleDeleteResponse", r);
  }
  override roleList(r: RolesResp): void {
    this.p("AuthRoleListResponse", r);
  }
  override roleGrantPermission(_role: string, r: HeaderResp): void {
    this.p("AuthRoleGrantPermissionResponse", r);
  }
  override roleRevokePermission(_role: string, _key: string, _end: string, r: HeaderResp): void {
    this.p("AuthRoleRevokePermissionResponse", r);
  }
  override userAdd(_user: string, r: HeaderResp): void {
    this.p("AuthUserAddResponse", r);
  }
  override userGet(_user: string, r: RolesResp): void {
    this.p("AuthUserGetResponse", r);
  }
  override userList(r: UsersResp): void {
    this.p("AuthUserListResponse", r);
  }
  override userChangePassword(r: HeaderResp): void {
    this.p("AuthUserChangePasswordResponse", r);
  }
  override userGrantRole(_user: string, _role: string, r: HeaderResp): void {
    this.p("AuthUserGrantRoleResponse", r);
  }
  override userRevokeRole(_user: string, _role: string, r: HeaderResp): void {
    this.p("AuthUserRevokeRoleResponse", r);
  }
  override userDelete(_user: string, r: HeaderResp): void {
    this.p("AuthUserDeleteResponse", r);
  }
}
