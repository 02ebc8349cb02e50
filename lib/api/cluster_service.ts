/** etcd's Cluster service: routes each call to the server's cluster façade. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { Cluster } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { ClusterServer } from "../server/cluster_server.ts";

/** The Cluster service implementation for createApiHandler. */
export function clusterService(s: ClusterServer): Partial<ServiceImpl<typeof Cluster>> {
  return {
    memberList: (req) => s.list(req),
    memberAdd: (req) => s.add(req),
    memberRemove: (req) => s.remove(req),
    memberUpdate: (req) => s.update(req),
    memberPromote: (req) => s.promote(req),
  };
}
