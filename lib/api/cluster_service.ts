/**
 * etcd's Cluster service over a member: the member list from applied membership, and the
 * membership changes (add, remove, update, promote) proposed through raft with etcd's
 * checks and errors.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { Errors } from "../base/errors.ts";
import type { Cluster } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { Member } from "../server/member.ts";
import type { MemberRecord } from "../server/membership.ts";

function toProto(a: MemberRecord): pb.Member {
  return create(pb.MemberSchema, {
    ID: a.id,
    name: a.name,
    peerURLs: a.peerURLs,
    clientURLs: a.clientURLs,
    isLearner: a.isLearner,
  });
}

/**
 * etcd's types.NewURLs: at least one URL, each http(s) or unix(s) with host:port and no
 * path; sorted as etcd sorts them. Anything else is etcd's "given member URLs are invalid".
 */
export function parsePeerUrls(urls: readonly string[]): string[] {
  if (urls.length === 0) throw Errors.memberBadURLs();
  const out: string[] = [];
  for (const raw of urls) {
    const text = raw.trim();
    const m = /^(https?|unixs?):\/\/([^/?#]*)$/.exec(text);
    if (m === null) throw Errors.memberBadURLs();
    const host = m[2];
    const hp = /^(\[[^\]]*\]|[^:\[\]]*):(\d*)$/.exec(host);
    if (hp === null) throw Errors.memberBadURLs();
    out.push(text);
  }
  return out.sort();
}

/** The Cluster service implementation for createApiHandler. */
export function clusterService(m: Member): Partial<ServiceImpl<typeof Cluster>> {
  return {
    async memberList(req) {
      if (req.linearizable) await m.linearizableRead();
      const members = m.membership.list().map(toProto);
      // etcd's ClusterServer header carries no revision (3.4 and 3.5): etcdctl shows 0
      return create(pb.MemberListResponseSchema, { header: m.header(0), members });
    },
    async memberAdd(req) {
      const urls = parsePeerUrls(req.peerURLs);
      const { member, members } = await m.addMember(urls, req.isLearner);
      return create(pb.MemberAddResponseSchema, {
        header: m.header(0),
        member: create(pb.MemberSchema, {
          ID: member.id,
          peerURLs: urls,
          isLearner: req.isLearner,
        }),
        members: members.map(toProto),
      });
    },
    async memberRemove(req) {
      const members = await m.removeMember(req.ID);
      return create(pb.MemberRemoveResponseSchema, {
        header: m.header(0),
        members: members.map(toProto),
      });
    },
    async memberUpdate(req) {
      const members = await m.updateMember(req.ID, req.peerURLs);
      return create(pb.MemberUpdateResponseSchema, {
        header: m.header(0),
        members: members.map(toProto),
      });
    },
    async memberPromote(req) {
      const members = await m.promoteMember(req.ID);
      return create(pb.MemberPromoteResponseSchema, {
        header: m.header(0),
        members: members.map(toProto),
      });
    },
  };
}
