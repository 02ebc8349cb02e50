/** etcd's Cluster service over a member: the member list from applied membership. */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import type { Cluster } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { Member } from "../server/member.ts";

/** The Cluster service implementation (MemberList) for createApiHandler. */
export function clusterService(m: Member): Partial<ServiceImpl<typeof Cluster>> {
  return {
    async memberList(req) {
      if (req.linearizable) await m.linearizableRead();
      const members = m.membership.list().map((a) =>
        create(pb.MemberSchema, {
          ID: a.id,
          name: a.name,
          peerURLs: a.peerURLs,
          clientURLs: a.clientURLs,
          isLearner: a.isLearner,
        })
      );
      // etcd's ClusterServer header carries no revision (3.4 and 3.5): etcdctl shows 0
      return create(pb.MemberListResponseSchema, { header: m.header(0), members });
    },
  };
}
