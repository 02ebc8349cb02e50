/**
 * Members that join a running simulated cluster (--initial-cluster-state existing): their
 * configuration, disk and start, and the members' answer to GET /members as the simulation's
 * stand-in for the peer HTTP route (read from the member serving that peer URL).
 */
import { Rand } from "../../lib/base/rand.ts";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { defaultConfig } from "../../lib/server/config.ts";
import type { ClusterInfo } from "../../lib/server/join.ts";
import type { Member } from "../../lib/server/member.ts";
import type { SimCluster } from "./sim_cluster.ts";

/** GET /members as the member serving `peerUrl` answers it; fails when none is running. */
export function simMembersFetcher(
  cluster: () => SimCluster,
): (url: string) => Promise<ClusterInfo> {
  return (url) => {
    const m = cluster().live.find((x) =>
      x.config.listenPeerUrls.some((u) => u.href.replace(/\/$/, "") === url)
    );
    if (m === undefined || m.failure !== null) {
      return Promise.reject(new Error(`connection refused: ${url}`));
    }
    return Promise.resolve({ clusterId: m.clusterId, members: m.membership.list() });
  };
}

/**
 * Starts a new member `name` with --initial-cluster-state existing and --initial-cluster
 * listing the running members and itself (as etcdctl member add prints it).
 */
export async function joinMember(c: SimCluster, name: string): Promise<Member> {
  const base = c.configs[0];
  const cfg = defaultConfig(name);
  const peer = new URL(`http://${name}.sim:2380`);
  cfg.dataDir = `/sim/${name}`;
  cfg.initialCluster = new Map(c.live.map((m) => [m.config.name, m.config.listenPeerUrls]));
  cfg.initialCluster.set(name, [peer]);
  cfg.initialClusterState = "existing";
  cfg.initialAdvertisePeerUrls = [peer];
  cfg.listenPeerUrls = [peer];
  cfg.advertiseClientUrls = [new URL(`http://${name}.sim:2379`)];
  cfg.heartbeatIntervalMs = base.heartbeatIntervalMs;
  cfg.electionTimeoutMs = base.electionTimeoutMs;
  cfg.snapshotCount = base.snapshotCount;
  cfg.strictReconfigCheck = base.strictReconfigCheck;
  c.configs.push(cfg);
  c.disks.push(new SimDisk({ rand: new Rand(c.disks.length * 977) }));
  c.members.push(null);
  return await c.startMember(c.configs.length - 1);
}
