/**
 * The server façade: the one object the API calls. Each part takes etcd's wire requests and
 * the caller's credentials, converts and validates each request once, decides linearizable
 * versus serializable reads and what goes through raft, and answers with etcd's wire
 * responses or a catalogue error. The API front only routes calls here and maps errors.
 */
import type { Member } from "./member.ts";
import { KvServer } from "./kv_server.ts";
import { LeaseServer } from "./lease_server.ts";
import { ClusterServer } from "./cluster_server.ts";
import { MaintenanceServer } from "./maintenance_server.ts";
import { AuthServer } from "./auth_server.ts";
import { WatchServer } from "./watch_server.ts";
import type { ResponseHeader } from "../../proto/gen/etcdserverpb/rpc_pb.ts";

/** etcd's services over one member, as the API calls them. */
export class EtcdServer {
  /**
   * The member behind the façade, for the API server's own wiring (start, stop, health,
   * metrics); the services go through the parts below.
   */
  readonly member: Member;
  readonly kv: KvServer;
  readonly lease: LeaseServer;
  readonly cluster: ClusterServer;
  readonly maintenance: MaintenanceServer;
  readonly auth: AuthServer;
  readonly watch: WatchServer;

  constructor(member: Member) {
    this.member = member;
    this.kv = new KvServer(member);
    this.lease = new LeaseServer(member);
    this.cluster = new ClusterServer(member);
    this.maintenance = new MaintenanceServer(member);
    this.auth = new AuthServer(member);
    this.watch = new WatchServer(member, this.kv);
  }

  /**
   * etcd's response header at `revision` (default: the current one), for the answers the
   * API composes itself (v3lock, v3election).
   */
  header(revision?: number): ResponseHeader {
    return this.member.header(revision);
  }
}
