/**
 * How a new member joins a running cluster (etcd's `--initial-cluster-state existing`): it
 * asks the other members listed in --initial-cluster for the cluster's members (etcd's
 * GET /members on their peer URLs, answered by lib/transport/peer_handler.ts with etcd's
 * member JSON and the cluster id in X-Etcd-Cluster-ID), finds itself among them by its peer
 * URLs (it was added with `member add` first), and takes its id and the cluster id from them.
 */
import type { ClusterId } from "../base/types.ts";
import { ConfigError, type ServerConfig } from "./config.ts";
import type { MemberRecord } from "./membership.ts";

/** What a running member says about its cluster. */
export interface ClusterInfo {
  clusterId: ClusterId;
  members: MemberRecord[];
}

/** Asks the member serving peers on `peerUrl` for its cluster's members. */
export type MembersFetcher = (peerUrl: string) => Promise<ClusterInfo>;

/** The peer route (etcd's rafthttp members path). */
export const MEMBERS_PATH = "/members";

/** The peer call name behind GET /members (TransportHost.handleCall). */
export const MEMBERS_CALL = "members";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** etcd's GET /members body: a JSON array of members (exact decimal ids). */
export function encodeMembers(members: MemberRecord[]): Uint8Array {
  const parts = members.map((m) => {
    const rest = JSON.stringify({
      name: m.name,
      peerURLs: m.peerURLs,
      clientURLs: m.clientURLs,
      ...(m.isLearner ? { isLearner: true } : {}),
    });
    return `{"id":${m.id.toString()},${rest.slice(1)}`;
  });
  return encoder.encode(`[${parts.join(",")}]`);
}

interface MemberJson {
  id: string;
  name?: string;
  peerURLs?: string[];
  clientURLs?: string[];
  isLearner?: boolean;
}

/** Parses etcd's GET /members body (ids kept exact: they are 64-bit). */
export function decodeMembers(body: Uint8Array): MemberRecord[] {
  const text = decoder.decode(body).replace(/"id":\s*(\d+)/g, '"id":"$1"');
  const list = JSON.parse(text) as MemberJson[];
  if (!Array.isArray(list)) throw new Error("GET /members: not a JSON array");
  return list.map((j) => ({
    id: BigInt(j.id),
    name: j.name ?? "",
    peerURLs: j.peerURLs ?? [],
    clientURLs: j.clientURLs ?? [],
    isLearner: j.isLearner === true,
  }));
}

/** GET /members over HTTP(S), with the member's peer TLS client certificate when it has one. */
export function httpMembersFetcher(cfg: ServerConfig, timeoutMs = 5000): MembersFetcher {
  return async (peerUrl) => {
    const tls = cfg.peerTls;
    let client: Deno.HttpClient | undefined;
    if (peerUrl.startsWith("https:")) {
      client = Deno.createHttpClient({
        ...(tls.trustedCaFile !== ""
          ? { caCerts: [await Deno.readTextFile(tls.trustedCaFile)] }
          : {}),
        ...(tls.certFile !== "" && tls.keyFile !== ""
          ? {
            cert: await Deno.readTextFile(tls.certFile),
            key: await Deno.readTextFile(tls.keyFile),
          }
          : {}),
      });
    }
    try {
      const res = await fetch(new URL(MEMBERS_PATH, peerUrl), {
        client,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const body = new Uint8Array(await res.arrayBuffer());
      if (res.status !== 200) {
        throw new Error(`GET ${peerUrl}${MEMBERS_PATH}: ${res.status} ${decoder.decode(body)}`);
      }
      const cid = res.headers.get("x-etcd-cluster-id") ?? "";
      if (!/^[0-9a-f]{1,16}$/.test(cid)) {
        throw new Error(`GET ${peerUrl}${MEMBERS_PATH}: no cluster id in the answer`);
      }
      return { clusterId: BigInt("0x" + cid), members: decodeMembers(body) };
    } finally {
      client?.close();
    }
  };
}

/**
 * Asks the other members of --initial-cluster, in order, until one answers; then finds this
 * member (by its --initial-advertise-peer-urls) among the cluster's members.
 */
export async function joinCluster(
  cfg: ServerConfig,
  selfPeerUrls: string[],
  fetcher: MembersFetcher,
): Promise<{ self: MemberRecord; info: ClusterInfo }> {
  const mine = new Set(selfPeerUrls);
  const targets = [...cfg.initialCluster.entries()]
    .filter(([name]) => name !== cfg.name)
    .flatMap(([, urls]) => urls.map((u) => u.href.replace(/\/$/, "")))
    .filter((u) => !mine.has(u));
  const errors: string[] = [];
  const notListed: string[] = [];
  const want = [...selfPeerUrls].sort().join(",");
  for (const url of targets) {
    let info: ClusterInfo;
    try {
      info = await fetcher(url);
    } catch (err) {
      errors.push(`${url}: ${(err as Error).message}`);
      continue;
    }
    const self = info.members.find((m) => [...m.peerURLs].sort().join(",") === want);
    // a member that has not applied the add yet does not list us: ask the next one
    if (self === undefined) {
      notListed.push(url);
      continue;
    }
    return { self, info };
  }
  if (notListed.length > 0) {
    throw new ConfigError(
      `--initial-cluster-state existing: the cluster has no member with peer URLs ${want} ` +
        `(asked ${notListed.join(", ")}; add it first: etcdctl member add ${cfg.name} ` +
        `--peer-urls=${want})`,
    );
  }
  throw new ConfigError(
    `--initial-cluster-state existing: could not fetch the cluster's members from ` +
      `${
        targets.length === 0
          ? "any peer (--initial-cluster lists no other member)"
          : errors.join("; ")
      }`,
  );
}
