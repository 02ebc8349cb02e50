/**
 * A member's HTTP endpoints beyond etcd's services (the console's
 * /ui/api/members-status): a GET on one of the client's members carrying the headers of
 * its calls (the auth token once authenticated). A refusal, answered 200 as
 * `{"error": {"code", "message"}}` (or with an error status as grpc-gateway's
 * `{"error", "code", "message"}`), becomes the same `EtcdError` as a call's (so an invalid
 * token is refreshed once, as for every call).
 */
import { EtcdError, GrpcCode } from "../base/errors.ts";
import type { Connection, MemberCallOptions } from "./connection.ts";

/** The parsed JSON of GET `path` on a member; a refusal rejects with etcd's error. */
export async function getJson(
  conn: Connection,
  path: string,
  opts?: MemberCallOptions,
): Promise<unknown> {
  return await conn.call("none", opts, async (ep, a) => {
    const res = await fetch(new URL(path, ep.url), { headers: a.headers, signal: a.signal });
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new EtcdError(GrpcCode.Unknown, `GET ${path}: ${res.status} ${text.slice(0, 200)}`);
    }
    const refusal = (res.ok ? (body as { error?: unknown })?.error : body) as
      | { code?: unknown; message?: unknown }
      | undefined;
    if (res.ok && (typeof refusal !== "object" || refusal === null)) return body;
    if (typeof refusal?.code === "number" && typeof refusal.message === "string") {
      throw new EtcdError(refusal.code as GrpcCode, refusal.message);
    }
    throw new EtcdError(GrpcCode.Unknown, `GET ${path}: ${res.status} ${text.slice(0, 200)}`);
  });
}
