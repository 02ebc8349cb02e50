/// <reference lib="dom" />
/**
 * The Cluster page: the members (id, name, URLs, role), the leader, and the serving
 * member's raft term and index, database size and in-use size, version, alarms and /health,
 * with a picture of the members, polled every two seconds while shown. The console may call
 * only its own origin (its CSP), so per-member figures are those of the member serving it,
 * and the state of the others is what it knows: its peer connection to each and the round
 * trip times it measured (from its /metrics).
 */
import { AlarmType, type Member, type StatusResponse } from "../client/browser.ts";
import { drawCluster } from "./cluster_picture.ts";
import { h, replace } from "./dom.ts";
import { Notice } from "./notice.ts";
import type { Page } from "./page.ts";
import type { Session } from "./session.ts";
import { bytesText } from "./value_format.ts";
import { parseMetrics } from "./prom_text.ts";
import { type PeerLink, peerLinksOf } from "./peer_links.ts";

const POLL_MS = 2000;

interface Health {
  health: string;
  reason?: string;
}

/** Each peer's link as the serving member sees it (from its /metrics). */
async function peerLinks(): Promise<Map<string, PeerLink>> {
  const res = await fetch("/metrics");
  if (!res.ok) throw new Error(`/metrics answered ${res.status} ${res.statusText}`);
  return peerLinksOf(parseMetrics(await res.text()));
}

/** The Cluster page. */
export class ClusterPage implements Page {
  readonly id = "cluster";
  readonly title = "Cluster";
  readonly el: HTMLElement;
  readonly #session: Session;
  readonly #notice = new Notice();
  readonly #facts = h("dl", { class: "facts", id: "status" });
  readonly #picture = h("div", { class: "picture" });
  readonly #rows = h("tbody");
  #timer?: ReturnType<typeof setInterval>;

  /** Made once by the shell. */
  constructor(session: Session) {
    this.#session = session;
    this.el = h(
      "section",
      { class: "page cluster" },
      this.#notice.el,
      h("div", { class: "split" }, this.#picture, this.#facts),
      h(
        "table",
        { id: "members" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", {}, "Name"),
            h("th", {}, "ID"),
            h("th", {}, "Role"),
            h("th", {}, "Peer link"),
            h("th", {}, "Peer URLs"),
            h("th", {}, "Client URLs"),
          ),
        ),
        this.#rows,
      ),
    );
  }

  show(): void {
    this.hide();
    void this.#poll();
    this.#timer = setInterval(() => void this.#poll(), POLL_MS);
  }

  hide(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #poll(): Promise<void> {
    try {
      const [status, list, alarms, health, links] = await Promise.all([
        this.#session.run((c) => c.maintenance.status()),
        this.#session.run((c) => c.cluster.list()),
        this.#session.run((c) => c.maintenance.alarms()),
        fetch("/health").then((r) => r.json() as Promise<Health>),
        peerLinks(),
      ]);
      const alarmText = alarms.alarms.map((a) =>
        `${AlarmType[a.alarm]} on ${a.memberID.toString(16)}`
      );
      this.#render(status, list.members, alarmText, health, links);
      this.#notice.clear();
    } catch (err) {
      this.#notice.error(err);
    }
  }

  #render(
    s: StatusResponse,
    members: Member[],
    alarms: string[],
    health: Health,
    links: Map<string, PeerLink>,
  ): void {
    const self = s.header?.memberId ?? 0n;
    const fact = (name: string, key: string, value: string) => [
      h("dt", {}, name),
      h("dd", { "data-fact": key }, value),
    ];
    replace(
      this.#facts,
      ...fact("Cluster", "cluster", (s.header?.clusterId ?? 0n).toString(16)),
      ...fact("Serving member", "member", self.toString(16)),
      ...fact("Leader", "leader", s.leader === 0n ? "none" : s.leader.toString(16)),
      ...fact("Raft term", "term", String(s.raftTerm)),
      ...fact("Raft index", "index", String(s.raftIndex)),
      ...fact("Applied index", "applied", String(s.raftAppliedIndex)),
      ...fact("Revision", "revision", String(s.header?.revision ?? 0n)),
      ...fact("DB size", "db", bytesText(Number(s.dbSize))),
      ...fact("DB in use", "db-in-use", bytesText(Number(s.dbSizeInUse))),
      ...fact("Version", "version", s.version),
      ...fact("Alarms", "alarms", alarms.length === 0 ? "none" : alarms.join(", ")),
      ...fact(
        "Health",
        "health",
        health.health === "true"
          ? "healthy"
          : `unhealthy${health.reason ? `: ${health.reason}` : ""}`,
      ),
      ...(s.errors.length > 0 ? fact("Errors", "errors", s.errors.join("; ")) : []),
    );
    replace(
      this.#picture,
      drawCluster({
        members: members.map((m) => ({ id: m.ID, name: m.name, learner: m.isLearner })),
        leader: s.leader,
        self,
        healthy: health.health === "true",
        peers: new Map([...links].map(([id, l]) => [id, l.active])),
      }),
    );
    replace(
      this.#rows,
      ...members.map((m) =>
        h(
          "tr",
          { "data-member": m.name },
          h("td", {}, m.name || "(not started)", m.ID === self ? " (serving)" : ""),
          h("td", { class: "mono" }, m.ID.toString(16)),
          h("td", {}, m.ID === s.leader ? "leader" : m.isLearner ? "learner" : "follower"),
          h("td", { "data-link": "" }, linkText(m.ID === self, links.get(m.ID.toString(16)))),
          h("td", {}, m.peerURLs.join(", ")),
          h("td", {}, m.clientURLs.join(", ")),
        )
      ),
    );
  }
}

/** How the serving member reaches a member. */
function linkText(self: boolean, link: PeerLink | undefined): string {
  if (self) return "(this member)";
  if (link === undefined) return "unknown";
  if (!link.active) return "no connection";
  if (link.rtt === undefined || link.rtt.seconds === 0) return "connected";
  const ms = (link.rtt.seconds * 1000).toFixed(2);
  return `connected, ${link.rtt.kind === "mean" ? "mean" : "last"} round trip ${ms} ms`;
}
