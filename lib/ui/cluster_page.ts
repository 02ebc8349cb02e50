/// <reference lib="dom" />
/**
 * The Cluster page: every member with its own figures as `etcdctl endpoint status --cluster`
 * shows them (version, database size and in-use size, raft term, index and applied index,
 * revision, status errors), or, for a member that is down or slow, the error the serving
 * member got asking it; the serving member's facts (leader, alarms, /health) and its peer
 * link to each member (connection and round trip time, from its /metrics); and a picture of
 * the members. Polled every two seconds while shown. The console may call only its own
 * origin (its CSP): the serving member asks the others over the peer transport
 * (GET /ui/api/members-status).
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
import {
  type MemberFigures,
  MEMBERS_STATUS_PATH,
  parseMembersStatus,
  type StatusFigures,
} from "./members_status.ts";

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
  /** A poll is under way (a slow member can hold one up to its timeout): skip the next. */
  #polling = false;

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
            h("th", {}, "Status"),
            h("th", {}, "Version"),
            h("th", {}, "DB size"),
            h("th", {}, "DB in use"),
            h("th", {}, "Raft term"),
            h("th", {}, "Raft index"),
            h("th", {}, "Applied index"),
            h("th", {}, "Revision"),
            h("th", {}, "Errors"),
            h("th", {}, "Peer link"),
            h("th", {}, "URLs"),
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
    if (this.#polling) return;
    this.#polling = true;
    try {
      const [status, list, everyone, alarms, health, links] = await Promise.all([
        this.#session.run((c) => c.maintenance.status()),
        this.#session.run((c) => c.cluster.list()),
        this.#session.run((c) => c.getJson(MEMBERS_STATUS_PATH)).then(parseMembersStatus),
        this.#session.run((c) => c.maintenance.alarms()),
        fetch("/health").then((r) => r.json() as Promise<Health>),
        peerLinks(),
      ]);
      const alarmText = alarms.alarms.map((a) =>
        `${AlarmType[a.alarm]} on ${a.memberID.toString(16)}`
      );
      const figures = new Map(everyone.map((f) => [f.id, f]));
      this.#render(status, list.members, figures, alarmText, health, links);
      this.#notice.clear();
    } catch (err) {
      this.#notice.error(err);
    } finally {
      this.#polling = false;
    }
  }

  #render(
    s: StatusResponse,
    members: Member[],
    figures: Map<bigint, MemberFigures>,
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
        errors: new Map(
          [...figures.values()].flatMap((f) =>
            f.error === undefined ? [] : [[f.id.toString(16), f.error.message]]
          ),
        ),
      }),
    );
    replace(
      this.#rows,
      ...members.map((m) => {
        const f = figures.get(m.ID);
        const own = f?.status;
        const cell = (col: string, value: string) => h("td", { "data-col": col }, value);
        return h(
          "tr",
          { "data-member": m.name, class: f?.error !== undefined ? "down" : undefined },
          h("td", {}, m.name || "(not started)", m.ID === self ? " (serving)" : ""),
          h("td", { class: "mono" }, m.ID.toString(16)),
          h("td", {}, m.ID === s.leader ? "leader" : m.isLearner ? "learner" : "follower"),
          h("td", { "data-col": "status" }, reachText(f)),
          ...figureCells(own).map(([col, value]) => cell(col, value)),
          h("td", { "data-link": "" }, linkText(m.ID === self, links.get(m.ID.toString(16)))),
          h(
            "td",
            { class: "urls" },
            ...m.peerURLs.flatMap((u) => [`peer ${u}`, h("br")]),
            ...(m.clientURLs.length === 0 ? ["client (not started)"] : m.clientURLs.flatMap(
              (u, i) => [i > 0 ? h("br") : undefined, `client ${u}`],
            )),
          ),
        );
      }),
    );
  }
}

/** Whether the member answered the serving member, or its error. */
function reachText(f: MemberFigures | undefined): string {
  if (f === undefined) return "not asked (joined since)";
  if (f.error !== undefined) return `down: ${f.error.message}`;
  return "up";
}

/** A member's own figures as table cells (column key, text); empty when it gave none. */
function figureCells(s: StatusFigures | undefined): [string, string][] {
  const cols: [string, (s: StatusFigures) => string][] = [
    ["version", (s) => s.version],
    ["db", (s) => bytesText(s.dbSize)],
    ["db-in-use", (s) => bytesText(s.dbSizeInUse)],
    ["term", (s) => String(s.raftTerm)],
    ["index", (s) => String(s.raftIndex)],
    ["applied", (s) => String(s.raftAppliedIndex)],
    ["revision", (s) => String(s.revision)],
    ["errors", (s) => s.errors.length === 0 ? "none" : s.errors.join("; ")],
  ];
  return cols.map(([col, text]) => [col, s === undefined ? "" : text(s)]);
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
