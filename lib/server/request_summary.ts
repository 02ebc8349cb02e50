/**
 * A one-line summary of a replicated request for the log (etcd's "apply request took too
 * long" prints the request with values replaced by their sizes): the kind, the key and range
 * end (quoted, cut at 64 bytes), value sizes and counts, never values or passwords.
 */
import { type InternalRequest, RequestKind } from "./request.ts";

const decoder = new TextDecoder();

function key(bytes: Uint8Array): string {
  const cut = bytes.length > 64 ? bytes.subarray(0, 64) : bytes;
  return JSON.stringify(decoder.decode(cut)) + (bytes.length > 64 ? "…" : "");
}

/** etcd-like text of `r`, e.g. `header:<ID:7 > put:<key:"foo" value_size:3 >`. */
export function summarizeRequest(r: InternalRequest): string {
  const head = `header:<ID:${r.id} ${
    r.auth ? `username:${JSON.stringify(r.auth.username)} ` : ""
  }> `;
  switch (r.kind) {
    case RequestKind.Put:
      return `${head}put:<key:${key(r.req.key)} value_size:${r.req.value.length}${
        r.req.lease !== 0n ? ` lease:${r.req.lease}` : ""
      } >`;
    case RequestKind.DeleteRange:
      return `${head}delete_range:<key:${key(r.req.key)}${
        r.req.rangeEnd.length > 0 ? ` range_end:${key(r.req.rangeEnd)}` : ""
      } >`;
    case RequestKind.Txn:
      return `${head}txn:<compare_size:${r.req.compare.length} success_size:${r.req.success.length} failure_size:${r.req.failure.length} >`;
    case RequestKind.Compaction:
      return `${head}compaction:<revision:${r.req.revision} >`;
    case RequestKind.LeaseGrant:
      return `${head}lease_grant:<ttl:${r.req.TTL} id:${r.req.ID} >`;
    case RequestKind.LeaseRevoke:
      return `${head}lease_revoke:<id:${r.req.ID} >`;
    case RequestKind.LeaseCheckpoint:
      return `${head}lease_checkpoint:<checkpoints_size:${r.req.checkpoints.length} >`;
    case RequestKind.Alarm:
      return `${head}alarm:<action:${r.req.action} alarm:${r.req.alarm} >`;
    default:
      return `${head}${RequestKind[r.kind]}:<>`;
  }
}
