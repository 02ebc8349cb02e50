/**
 * etcd's publishV3: a member puts its name and client URLs into the replicated membership
 * through raft once it knows a leader, so every member lists them (`member list` shows a
 * member unstarted until it did). Retried with backoff until it lands or the member stops.
 */
import { create } from "@bufbuild/protobuf";
import type { Logger } from "../base/log.ts";
import type { ClusterId, MemberId } from "../base/types.ts";
import type { Clock } from "../io/clock.ts";
import {
  type Member as MemberAttributes,
  MemberSchema,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { formatId } from "./member_id.ts";
import type { Membership } from "./membership.ts";

/** What publishing needs of its member. */
export interface PublishHost {
  id: MemberId;
  clusterId: ClusterId;
  name: string;
  clientURLs: string[];
  clock: Clock;
  log: Logger;
  membership(): Membership;
  /** Proposes the attribute change; resolves once applied. */
  proposeAttributes(req: MemberAttributes): Promise<unknown>;
  /** False once the member stopped or failed. */
  running(): boolean;
}

function attributes(id: MemberId, name: string, clientURLs: string[]): MemberAttributes {
  return create(MemberSchema, { ID: id, name, clientURLs });
}

/**
 * Resolves once the membership holds this member's name and client URLs (true), or the
 * member stopped first (false).
 */
export async function publishMember(h: PublishHost): Promise<boolean> {
  for (let attempt = 0; h.running(); attempt++) {
    const have = h.membership().get(h.id);
    if (
      have !== undefined && have.name === h.name &&
      have.clientURLs.join(",") === h.clientURLs.join(",")
    ) {
      return true;
    }
    try {
      await h.proposeAttributes(attributes(h.id, h.name, h.clientURLs));
      h.log.info("published local member to cluster through raft", {
        "local-member-id": formatId(h.id),
        "local-member-attributes": `{Name:${h.name} ClientURLs:[${h.clientURLs.join(" ")}]}`,
        "cluster-id": formatId(h.clusterId),
      });
      return true;
    } catch (err) {
      if (!h.running()) return false;
      h.log.warn("failed to publish local member to cluster through raft (will retry)", {
        "local-member-id": formatId(h.id),
        error: err,
      });
      await new Promise<void>((r) => h.clock.after(Math.min(2000, 100 << attempt), r));
    }
  }
  return false;
}
