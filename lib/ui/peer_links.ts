/**
 * What the serving member knows of its peers, read from its /metrics: whether it has a
 * peer connection to each, and the round trip times it measured. Pure, no DOM.
 */
import type { Sample } from "./prom_text.ts";

/** The serving member's link to one peer, from its /metrics. */
export interface PeerLink {
  active: boolean;
  /** Round trip time in seconds, if exported, and whether it is the last one or a mean. */
  rtt?: { seconds: number; kind: "last" | "mean" };
}

/**
 * Each peer's link by member id in hex: etcd_network_active_peers{Remote}, and the round
 * trip time: etcd's histogram etcd_network_peer_round_trip_time_seconds{To} (its mean), or
 * the last probe's (concord_network_peer_round_trip_time_seconds{To}) where exported.
 */
export function peerLinksOf(samples: Sample[]): Map<string, PeerLink> {
  const links = new Map<string, PeerLink>();
  for (const s of samples) {
    if (s.name === "etcd_network_active_peers" && s.labels.Remote !== undefined) {
      links.set(s.labels.Remote, { active: s.value > 0 });
    }
  }
  const sums = new Map<string, { sum: number; count: number }>();
  for (const s of samples) {
    const to = s.labels.To ?? "";
    const link = links.get(to);
    if (!link) continue;
    if (s.name === "concord_network_peer_round_trip_time_seconds") {
      link.rtt = { seconds: s.value, kind: "last" };
    }
    const h = "etcd_network_peer_round_trip_time_seconds";
    if (s.name === `${h}_sum` || s.name === `${h}_count`) {
      const t = sums.get(to) ?? { sum: 0, count: 0 };
      if (s.name.endsWith("_sum")) t.sum = s.value;
      else t.count = s.value;
      sums.set(to, t);
    }
  }
  for (const [to, t] of sums) {
    const link = links.get(to)!;
    if (link.rtt === undefined && t.count > 0) {
      link.rtt = { seconds: t.sum / t.count, kind: "mean" };
    }
  }
  return links;
}
