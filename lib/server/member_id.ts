/**
 * Member and cluster ids derived exactly as etcd derives them, so a Concord cluster started
 * with the same names, peer urls and cluster token has the ids an etcd one would have, and
 * tools that print or compare ids see familiar values.
 */
import { createHash } from "node:crypto";
import type { ClusterId, MemberId } from "../base/types.ts";

const encoder = new TextEncoder();

/**
 * Synchronous (node:crypto), unlike WebCrypto's digest, which settles on another thread at a
 * time of its own: a member add awaiting it would propose at a step the whole-cluster
 * simulation cannot replay from its seed.
 */
function sha1Prefix64(bytes: Uint8Array): Promise<bigint> {
  const d = createHash("sha1").update(bytes).digest();
  return Promise.resolve(new DataView(d.buffer, d.byteOffset, d.byteLength).getBigUint64(0, false));
}

/**
 * etcd's member id: the first 8 bytes (big-endian) of SHA-1 over the sorted peer urls
 * concatenated, then the cluster token, then (for members added at run time) the Unix time in
 * seconds as decimal text.
 */
export function memberIdFor(
  peerUrls: readonly string[],
  clusterToken: string,
  addedAtUnixSeconds?: number,
): Promise<MemberId> {
  let text = [...peerUrls].sort().join("") + clusterToken;
  if (addedAtUnixSeconds !== undefined) text += String(Math.trunc(addedAtUnixSeconds));
  return sha1Prefix64(encoder.encode(text));
}

/** etcd's cluster id: SHA-1 over the sorted member ids as 8-byte big-endian words, first 8 bytes. */
export function clusterIdFor(memberIds: readonly MemberId[]): Promise<ClusterId> {
  const sorted = [...memberIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const bytes = new Uint8Array(8 * sorted.length);
  const view = new DataView(bytes.buffer);
  sorted.forEach((id, i) => view.setBigUint64(8 * i, id, false));
  return sha1Prefix64(bytes);
}

/** Formats an id the way etcdctl prints it: lower-case hex without leading zeros. */
export function formatId(id: bigint): string {
  return id.toString(16);
}
