/// <reference lib="dom" />
/**
 * The Keys page: browse the keys under a prefix a page at a time (keys only, in key order;
 * the next page starts just after the last key shown), open one in the key view, and put a
 * key with an optional lease.
 */
import { FROM_KEY, type KeyValue, rangeEndOfPrefix, toBytes } from "../client/browser.ts";
import { field, h, replace } from "./dom.ts";
import { KeyView } from "./key_view.ts";
import { Notice } from "./notice.ts";
import type { Page } from "./page.ts";
import type { Session } from "./session.ts";
import { leaseHex, parseLease, shortText } from "./value_format.ts";

/** Keys per page. */
export const PAGE_SIZE = 50;

/** The byte after which the next page starts: the smallest key greater than `key`. */
function after(key: Uint8Array): Uint8Array {
  const next = new Uint8Array(key.length + 1);
  next.set(key);
  return next;
}

/** The Keys page. */
export class KeysPage implements Page {
  readonly id = "keys";
  readonly title = "Keys";
  readonly el: HTMLElement;
  readonly #session: Session;
  readonly #notice = new Notice();
  readonly #view: KeyView;
  readonly #rows = h("tbody");
  readonly #summary = h("p", { class: "summary" });
  readonly #prev = h("button", { type: "button", name: "prev", disabled: true }, "◀ Previous");
  readonly #next = h("button", { type: "button", name: "next", disabled: true }, "Next ▶");
  #prefix = "";
  /** The start key of each page up to the one shown. */
  #starts: Uint8Array[] = [];
  /** Counts loads: only the latest one's answer is shown. */
  #loads = 0;

  /** Made once by the shell. */
  constructor(session: Session) {
    this.#session = session;
    this.#view = new KeyView(session, (what) => {
      if (what !== undefined) this.#notice.ok(what);
      this.reload();
    });
    const browse = h(
      "form",
      { id: "browse", class: "row" },
      h("label", {}, "Prefix ", h("input", { name: "prefix", placeholder: "(every key)" })),
      h("button", { type: "submit" }, "Browse"),
    );
    browse.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.#prefix = field(browse, "prefix");
      this.#load([]);
    });
    this.#prev.addEventListener("click", () => this.#load(this.#starts.slice(0, -1)));
    this.#next.addEventListener("click", () => this.#nextPage());
    const put = h(
      "form",
      { id: "put", class: "stack" },
      h("h3", {}, "Put a key"),
      h("label", {}, "Key ", h("input", { name: "key", required: true })),
      h("label", {}, "Value ", h("textarea", { name: "value", rows: 3 })),
      h("label", {}, "Lease (hex, optional) ", h("input", { name: "lease", size: 18 })),
      h("button", { type: "submit" }, "Put"),
    );
    put.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void this.#put(put);
    });
    const table = h(
      "table",
      { id: "keys" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", {}, "Key"),
          h("th", {}, "Version"),
          h("th", {}, "Created"),
          h("th", {}, "Modified"),
          h("th", {}, "Lease"),
        ),
      ),
      this.#rows,
    );
    this.el = h(
      "section",
      { class: "page keys" },
      browse,
      this.#notice.el,
      h(
        "div",
        { class: "split" },
        h(
          "div",
          {},
          this.#summary,
          table,
          h("div", { class: "row" }, this.#prev, this.#next),
          put,
        ),
        this.#view.el,
      ),
    );
    session.onChange(() => {
      this.#view.close();
      this.reload();
    });
  }

  show(): void {
    this.reload();
  }

  hide(): void {}

  /** Loads the page shown again (after a change). */
  reload(): void {
    this.#load(this.#starts.length > 0 ? this.#starts : []);
  }

  #span(): { first: Uint8Array; end: Uint8Array } {
    // every key: from "\0" on (etcd's --from-key "\0")
    if (this.#prefix === "") return { first: new Uint8Array([0]), end: FROM_KEY };
    return { first: toBytes(this.#prefix), end: rangeEndOfPrefix(this.#prefix) };
  }

  async #load(starts: Uint8Array[]): Promise<void> {
    const { first, end } = this.#span();
    const start = starts.length > 0 ? starts[starts.length - 1] : first;
    const load = ++this.#loads;
    try {
      const r = await this.#session.run((c) =>
        c.range(start, { end, limit: PAGE_SIZE, keysOnly: true })
      );
      if (load !== this.#loads) return;
      this.#starts = starts.length > 0 ? starts : [first];
      this.#render(r.kvs, Number(r.count), r.more, r.header?.revision ?? 0n);
      this.#notice.clearError();
    } catch (err) {
      if (load === this.#loads) this.#notice.error(err);
    }
  }

  #nextPage(): void {
    const last = this.#rows.lastElementChild as (HTMLElement & { kv?: KeyValue }) | null;
    if (last?.kv) this.#load([...this.#starts, after(last.kv.key)]);
  }

  #render(kvs: KeyValue[], remaining: number, more: boolean, rev: bigint): void {
    const pageNo = this.#starts.length;
    const where = this.#prefix === "" ? "" : ` under “${this.#prefix}”`;
    // every page before this one was full
    const before = (pageNo - 1) * PAGE_SIZE;
    replace(
      this.#summary,
      kvs.length === 0
        ? `No keys${where} (revision ${rev}).`
        : `Keys ${before + 1}–${before + kvs.length} of ${before + remaining}${where} ` +
          `(revision ${rev}).`,
    );
    const rows = kvs.map((kv) => {
      const open = h("button", { type: "button", class: "link" }, shortText(kv.key));
      open.addEventListener("click", () => this.#view.open(kv.key));
      const tr = h(
        "tr",
        { "data-key": shortText(kv.key, 1000) },
        h("td", {}, open),
        h("td", {}, String(kv.version)),
        h("td", {}, String(kv.createRevision)),
        h("td", {}, String(kv.modRevision)),
        h("td", {}, kv.lease === 0n ? "" : leaseHex(kv.lease)),
      );
      (tr as HTMLElement & { kv?: KeyValue }).kv = kv;
      return tr;
    });
    replace(this.#rows, ...rows);
    this.#prev.disabled = pageNo <= 1;
    this.#next.disabled = !more;
  }

  async #put(form: HTMLFormElement): Promise<void> {
    try {
      const key = field(form, "key");
      const lease = parseLease(field(form, "lease"));
      const r = await this.#session.run((c) => c.put(key, field(form, "value"), { lease }));
      this.#notice.ok(`Put “${key}” at revision ${r.header?.revision ?? "?"}.`);
      this.reload();
      this.#view.open(toBytes(key));
    } catch (err) {
      this.#notice.error(err);
    }
  }
}
