/**
 * The Cluster part of the server façade: the member list from the applied membership, and
 * membership changes (add, remove, update, promote) proposed through raft with etcd's checks
 * and errors.
 */
import { create } from "@bufbuild/protobuf";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { Errors } from "../base/errors.ts";
import type { Member } from "./member.ts";
import type { MemberRecord } from "./membership.ts";

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

/**
 * etcd's Cluster calls over one member. Their headers carry no revision (etcd 3.4 and 3.5's
 * ClusterServer leave it 0, and etcdctl shows 0).
 */
export class ClusterServer {
  readonly #m: Member;

  constructor(m: Member) {
    this.#m = m;
  }

  /** MemberList; `linearizable` waits for a ReadIndex round first (etcd 3.5). */
  async list(req: pb.MemberListRequest): Promise<pb.MemberListResponse> {
    const m = this.#m;
    if (req.linearizable) await m.linearizableRead();
    const members = m.membership.list().map(toProto);
    return create(pb.MemberListResponseSchema, { header: m.header(0), members });
  }

  /** MemberAdd, with etcd's URL validation. */
  async add(req: pb.MemberAddRequest): Promise<pb.MemberAddResponse> {
    const m = this.#m;
    const urls = parsePeerUrls(req.peerURLs);
    const { member, members } = await m.addMember(urls, req.isLearner);
    return create(pb.MemberAddResponseSchema, {
      header: m.header(0),
      member: create(pb.MemberSchema, { ID: member.id, peerURLs: urls, isLearner: req.isLearner }),
      members: members.map(toProto),
    });
  }

  /** MemberRemove. */
  async remove(req: pb.MemberRemoveRequest): Promise<pb.MemberRemoveResponse> {
    const m = this.#m;
    const members = await m.removeMember(req.ID);
    return create(pb.MemberRemoveResponseSchema, {
      header: m.header(0),
      members: members.map(toProto),
    });
  }

  /** MemberUpdate: new peer URLs. */
  async update(req: pb.MemberUpdateRequest): Promise<pb.MemberUpdateResponse> {
    const m = this.#m;
    const members = await m.updateMember(req.ID, req.peerURLs);
    return create(pb.MemberUpdateResponseSchema, {
      header: m.header(0),
      members: members.map(toProto),
    });
  }

  /** MemberPromote: a learner becomes a voter once it caught up. */
  async promote(req: pb.MemberPromoteRequest): Promise<pb.MemberPromoteResponse> {
    const m = this.#m;
    const members = await m.promoteMember(req.ID);
    return create(pb.MemberPromoteResponseSchema, {
      header: m.header(0),
      members: members.map(toProto),
    });
  }
}
