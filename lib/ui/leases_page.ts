/// <reference lib="dom" />
/**
 * The Leases page: every lease with its remaining TTL counting down (from the member's
 * answer, refreshed every few seconds while shown), its granted TTL and attached keys; grant
 * a lease, attach a key to one, renew one once, revoke one (its keys go with it).
 */
import { field, h, replace } from "./dom.ts";
import { Notice } from "./notice.ts";
import type { Page } from "./page.ts";
import type { Session } from "./session.ts";
import { leaseHex, shortText } from "./value_format.ts";

/** How often the list is read again while shown. */
const REFRESH_MS = 3000;
/** Leases whose details are read (the list says how many more there are). */
const MAX_LEASES = 200;

interface Shown {
  id: bigint;
  /** When the lease runs out (ms since epoch), from the member's remaining TTL. */
  expiresAt: number;
  granted: bigint;
  keys: Uint8Array[];
}

/** The Leases page. */
export class LeasesPage implements Page {
  readonly id = "leases";
  readonly title = "Leases";
  readonly el: HTMLElement;
  readonly #session: Session;
  readonly #notice = new Notice();
  readonly #rows = h("tbody");
  readonly #summary = h("p", { class: "summary" });
  #leases: Shown[] = [];
  #timers: ReturnType<typeof setInterval>[] = [];

  /** Made once by the shell. */
  constructor(session: Session) {
    this.#session = session;
    const grant = h(
      "form",
      { id: "grant", class: "row" },
      h(
        "label",
        {},
        "TTL (seconds) ",
        h("input", { name: "ttl", value: "60", size: 6, inputmode: "numeric" }),
      ),
      h("button", { type: "submit" }, "Grant a lease"),
    );
    grant.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void this.#grant(field(grant, "ttl"));
    });
    this.el = h(
      "section",
      { class: "page leases" },
      grant,
      this.#notice.el,
      this.#summary,
      h(
        "table",
        { id: "leases" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", {}, "Lease"),
            h("th", {}, "Remaining"),
            h("th", {}, "Granted"),
            h("th", {}, "Keys"),
            h("th", {}, ""),
          ),
        ),
        this.#rows,
      ),
    );
    session.onChange(() => {
      if (this.#timers.length > 0) void this.#refresh();
    });
  }

  show(): void {
    this.hide();
    void this.#refresh();
    this.#timers.push(setInterval(() => void this.#refresh(), REFRESH_MS));
    this.#timers.push(setInterval(() => this.#tick(), 1000));
  }

  hide(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
  }

  async #refresh(): Promise<void> {
    try {
      const leases = await this.#session.run(async (c) => {
        const ids = (await c.lease.leases()).leases.map((l) => l.ID);
        ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        const shown: Shown[] = [];
        for (const id of ids.slice(0, MAX_LEASES)) {
          const asked = Date.now();
          const t = await c.lease.timeToLive(id, { keys: true });
          // gone between the list and this call
          if (t.TTL < 0n) continue;
          shown.push({
            id,
            expiresAt: asked + Number(t.TTL) * 1000,
            granted: t.grantedTTL,
            keys: t.keys,
          });
        }
        return { shown, total: ids.length };
      });
      this.#leases = leases.shown;
      this.#notice.clearError();
      replace(
        this.#summary,
        leases.total === 0
          ? "No leases."
          : `${leases.total} lease${leases.total === 1 ? "" : "s"}${
            leases.total > MAX_LEASES ? ` (the first ${MAX_LEASES} shown)` : ""
          }.`,
      );
      this.#render();
    } catch (err) {
      this.#notice.error(err);
    }
  }

  /** Updates the rows in place (a half-typed attach form survives a refresh). */
  #render(): void {
    const old = new Map<string, Element>();
    for (const tr of this.#rows.children) old.set(tr.getAttribute("data-lease") ?? "", tr);
    const rows = this.#leases.map((l) => {
      const tr = old.get(leaseHex(l.id));
      if (tr === undefined) return this.#row(l);
      tr.querySelector("[data-granted]")!.textContent = `${l.granted} s`;
      tr.querySelector("[data-keys]")!.textContent = keysText(l);
      return tr;
    });
    // move no row already in place (moving one would take the focus from its inputs)
    rows.forEach((tr, i) => {
      const at = this.#rows.children[i];
      if (at !== tr) this.#rows.insertBefore(tr, at ?? null);
    });
    while (this.#rows.children.length > rows.length) this.#rows.lastElementChild!.remove();
    this.#tick();
  }

  #row(l: Shown): HTMLElement {
    const hex = leaseHex(l.id);
    const revoke = h("button", { type: "button", name: "revoke", class: "danger" }, "Revoke");
    revoke.addEventListener("click", () => void this.#revoke(l.id));
    const renew = h("button", { type: "button", name: "renew" }, "Keep alive");
    renew.addEventListener("click", () => void this.#renew(l.id));
    const attach = h(
      "form",
      { class: "row attach" },
      h("input", { name: "key", placeholder: "key", required: true, size: 12 }),
      h("input", { name: "value", placeholder: "value", size: 8 }),
      h("button", { type: "submit" }, "Attach"),
    );
    attach.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void this.#attach(l.id, field(attach, "key"), field(attach, "value"));
    });
    return h(
      "tr",
      { "data-lease": hex },
      h("td", { class: "mono" }, hex),
      h("td", { "data-remaining": "" }, remaining(l)),
      h("td", { "data-granted": "" }, `${l.granted} s`),
      h("td", { "data-keys": "" }, keysText(l)),
      h("td", {}, h("div", { class: "row" }, renew, revoke), attach),
    );
  }

  /** Counts the remaining TTLs down between refreshes. */
  #tick(): void {
    for (const tr of this.#rows.children) {
      const hex = tr.getAttribute("data-lease");
      const l = this.#leases.find((x) => leaseHex(x.id) === hex);
      const cell = tr.querySelector("[data-remaining]");
      if (l && cell) cell.textContent = remaining(l);
    }
  }

  async #grant(ttlText: string): Promise<void> {
    if (!/^[0-9]+$/.test(ttlText.trim())) {
      this.#notice.error(`“${ttlText}” is not a number of seconds`);
      return;
    }
    try {
      const r = await this.#session.run((c) => c.lease.grant(Number(ttlText)));
      this.#notice.ok(`Granted lease ${leaseHex(r.ID)} with a TTL of ${r.TTL} s.`);
      await this.#refresh();
    } catch (err) {
      this.#notice.error(err);
    }
  }

  async #revoke(id: bigint): Promise<void> {
    try {
      await this.#session.run((c) => c.lease.revoke(id));
      this.#notice.ok(`Revoked lease ${leaseHex(id)}; its keys were deleted.`);
      await this.#refresh();
    } catch (err) {
      this.#notice.error(err);
    }
  }

  async #renew(id: bigint): Promise<void> {
    try {
      const r = await this.#session.run((c) => c.lease.keepAliveOnce(id));
      this.#notice.ok(`Lease ${leaseHex(id)} renewed for ${r.TTL} s.`);
      await this.#refresh();
    } catch (err) {
      this.#notice.error(err);
    }
  }

  async #attach(id: bigint, key: string, value: string): Promise<void> {
    try {
      await this.#session.run((c) => c.put(key, value, { lease: id }));
      this.#notice.ok(`Put “${key}” with lease ${leaseHex(id)}.`);
      await this.#refresh();
    } catch (err) {
      this.#notice.error(err);
    }
  }
}

/** The lease's keys, as a list. */
function keysText(l: Shown): string {
  return l.keys.length === 0 ? "none" : l.keys.map((k) => shortText(k)).join(", ");
}

/** The remaining TTL now, in whole seconds. */
function remaining(l: Shown): string {
  return `${Math.max(0, Math.ceil((l.expiresAt - Date.now()) / 1000))} s`;
}
