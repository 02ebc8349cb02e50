/**
 * The console's view of every member's status (its Cluster page): `GET /ui/api/members-status`
 * answers what `etcdctl endpoint status --cluster` shows, each member's figures asked by the
 * serving member over the peer transport (the page may call only its own origin). JSON in
 * the REST gateway's shapes: `{"members": [{"member": <Member>, "status": <StatusResponse>}
 * or {"member": <Member>, "error": {"code", "message"}}]}`, 64-bit integers as strings.
 * The caller's auth token travels as for the gateway (the `Authorization` or `token`
 * header). A refusal (no user, an invalid token) is answered 200 with
 * `{"error": {"code", "message"}}` (etcd's gRPC code and message): as gRPC-web carries a
 * refusal in a 200 answer's trailer, so the browser logs no failed load for what is the
 * console's cue to ask for a login.
 */
import { create, toJson } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import type { UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import * as pb from "../../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { Caller } from "../../server/caller.ts";
import type { MemberStatus } from "../../server/members_status.ts";
import { authToken } from "../auth_token.ts";
import { once } from "../body.ts";
import { toConnectError } from "../errors.ts";

/** Where the console asks for every member's status. */
export const MEMBERS_STATUS_PATH = "/ui/api/members-status";

/** What answers it: the server façade's MaintenanceServer.membersStatus. */
export type MembersStatusFn = (caller: Caller) => Promise<MemberStatus[]>;

const encoder = new TextEncoder();
/** The gateway's JSON: proto field names for the status, as /v3/maintenance/status. */
const WRITE = { useProtoFieldName: true } as const;

function json(status: number, value: unknown): UniversalServerResponse {
  return {
    status,
    header: new Headers({
      "Content-Type": "application/json",
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
    }),
    body: once(encoder.encode(JSON.stringify(value))),
  };
}

/** One member's entry of the answer. */
function entryJson(s: MemberStatus): Record<string, unknown> {
  const member = toJson(
    pb.MemberSchema,
    create(pb.MemberSchema, {
      ID: s.member.id,
      name: s.member.name,
      peerURLs: s.member.peerURLs,
      clientURLs: s.member.clientURLs,
      isLearner: s.member.isLearner,
    }),
    WRITE,
  );
  if ("status" in s) return { member, status: toJson(pb.StatusResponseSchema, s.status, WRITE) };
  return { member, error: { code: s.error.code, message: s.error.message } };
}

/** Answers GET MEMBERS_STATUS_PATH with `fn` (404 when the server gives none). */
export async function serveMembersStatus(
  req: UniversalServerRequest,
  fn: MembersStatusFn | undefined,
): Promise<UniversalServerResponse> {
  if (fn === undefined) return json(404, { error: "not found", code: 5, message: "not found" });
  if (req.method !== "GET") {
    const res = json(405, { error: "method not allowed", code: 12, message: "method not allowed" });
    res.header?.set("Allow", "GET");
    return res;
  }
  // as the gateway: the token only (etcd ignores the client certificate's CN there)
  const caller: Caller = { token: authToken(req.header) };
  let statuses: MemberStatus[];
  try {
    statuses = await fn(caller);
  } catch (err) {
    const e: ConnectError = toConnectError(err);
    return json(200, { error: { code: e.code, message: e.rawMessage } });
  }
  return json(200, { members: statuses.map(entryJson) });
}
