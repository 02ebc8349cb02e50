/**
 * Who is asking: the auth info of a request from its token, as etcd derives it. With auth
 * disabled nothing is looked up; an unknown or expired token is etcd's invalid auth token.
 */
import type { AuthInfo, AuthStore } from "../auth/store.ts";
import type * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { Lessor } from "../lease/lessor.ts";

/** A put's checks: write the key; read it too when the previous value is asked for. */
export function checkPutAuth(auth: AuthStore, info: AuthInfo | undefined, r: pb.PutRequest): void {
  auth.checkPut(info, r.key);
  if (r.prevKv) auth.checkRange(info, r.key, new Uint8Array(0));
}

/** A delete's checks: write the range; read it too for prev_kv. */
export function checkDeleteAuth(
  auth: AuthStore,
  info: AuthInfo | undefined,
  r: pb.DeleteRangeRequest,
): void {
  auth.checkDeleteRange(info, r.key, r.rangeEnd);
  if (r.prevKv) auth.checkRange(info, r.key, r.rangeEnd);
}

/** etcd's checkTxnAuth: every compare is a read; every op is checked as itself. */
export function checkTxnAuth(auth: AuthStore, info: AuthInfo | undefined, r: pb.TxnRequest): void {
  for (const c of r.compare) auth.checkRange(info, c.key, c.rangeEnd);
  for (const op of [...r.success, ...r.failure]) {
    const q = op.request;
    if (q.case === "requestRange") auth.checkRange(info, q.value.key, q.value.rangeEnd);
    else if (q.case === "requestPut") checkPutAuth(auth, info, q.value);
    else if (q.case === "requestDeleteRange") checkDeleteAuth(auth, info, q.value);
    else if (q.case === "requestTxn") checkTxnAuth(auth, info, q.value);
  }
}

/** A lease revoke's check: write permission on every attached key. */
export function checkRevokeAuth(
  m: { lessor: Lessor; auth: AuthStore },
  info: AuthInfo | undefined,
  id: bigint,
): void {
  if (!m.lessor.exists(id)) return;
  for (const k of m.lessor.timeToLive(id, true).keys) m.auth.checkPut(info, k);
}

/**
 * The auth a client request carries into the log: its user, or no user at all (revision 0,
 * which the apply refuses with userEmpty once auth is enabled). Requests the member makes
 * itself (expired leases) carry none and are not checked.
 */
export function requestAuth(info: AuthInfo | undefined): AuthInfo {
  return info ?? { username: "", revision: 0 };
}
