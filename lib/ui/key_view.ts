/// <reference lib="dom" />
/**
 * One key: its value (as text, pretty JSON or hex), create and mod revision, version and
 * lease; edit it with a compare-and-swap (a txn that puts only if the mod revision is still
 * the one shown, keeping the lease), delete it, and list its history.
 */
import { cmp, type KeyValue, op } from "../client/browser.ts";
import { h, replace } from "./dom.ts";
import { keyHistory } from "./key_history.ts";
import { errorText, Notice } from "./notice.ts";
import type { Session } from "./session.ts";
import { asHex, asJson, asText, leaseHex, shortText, utf8, type View } from "./value_format.ts";

/** Versions listed per click of the history button. */
const HISTORY_STEP = 20;

const VIEWS: Record<string, (b: Uint8Array) => View> = { text: asText, json: asJson, hex: asHex };

/** The key panel beside the list. */
export class KeyView {
  readonly el: HTMLElement = h("aside", { id: "key-view", class: "panel", hidden: true });
  readonly #session: Session;
  readonly #changed: (what?: string) => void;
  readonly #notice = new Notice();
  #kv?: KeyValue;
  #mode = "text";
  /** Counts opens: only the latest one's answer is shown. */
  #opens = 0;

  /** `changed` is called after a put or delete through the panel, with what it did. */
  constructor(session: Session, changed: (what?: string) => void) {
    this.#session = session;
    this.#changed = changed;
  }

  /** Shows the key (its current version). */
  async open(key: Uint8Array): Promise<void> {
    this.el.hidden = false;
    const open = ++this.#opens;
    try {
      const kv = await this.#session.run((c) => c.get(key));
      if (open !== this.#opens) return;
      if (kv === undefined) {
        this.#kv = undefined;
        replace(this.el, h("h3", {}, shortText(key)), this.#notice.el);
        this.#notice.ok("This key does not exist (any more).");
        return;
      }
      this.#kv = kv;
      this.#render();
    } catch (err) {
      if (open !== this.#opens) return;
      replace(this.el, h("h3", {}, shortText(key)), this.#notice.el);
      this.#notice.error(err);
    }
  }

  /** Hides the panel. */
  close(): void {
    this.#opens++;
    this.el.hidden = true;
    this.#kv = undefined;
    replace(this.el);
  }

  #render(): void {
    const kv = this.#kv!;
    const value = h("pre", { class: "value" });
    const showValue = () => {
      const v = VIEWS[this.#mode](kv.value);
      value.className = v.ok ? "value" : "value refused";
      replace(value, v.ok ? v.text : v.reason);
    };
    const tabs = h("div", { class: "tabs", role: "tablist" });
    for (const mode of Object.keys(VIEWS)) {
      const b = h("button", { type: "button", name: `view-${mode}` }, mode.toUpperCase());
      b.setAttribute("aria-selected", String(mode === this.#mode));
      b.addEventListener("click", () => {
        this.#mode = mode;
        for (const t of tabs.children) t.setAttribute("aria-selected", String(t === b));
        showValue();
      });
      tabs.appendChild(b);
    }
    showValue();
    const edit = h("button", { type: "button", name: "edit" }, "Edit");
    const del = h("button", { type: "button", name: "delete", class: "danger" }, "Delete");
    const hist = h("button", { type: "button", name: "history" }, "History");
    const below = h("div");
    edit.addEventListener("click", () => replace(below, this.#editor(kv)));
    del.addEventListener("click", () => void this.#delete(kv));
    hist.addEventListener("click", () => void this.#history(kv, below));
    replace(
      this.el,
      h("h3", { class: "key" }, shortText(kv.key, 200)),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Created"),
        h("dd", { "data-fact": "create" }, String(kv.createRevision)),
        h("dt", {}, "Modified"),
        h("dd", { "data-fact": "mod" }, String(kv.modRevision)),
        h("dt", {}, "Version"),
        h("dd", { "data-fact": "version" }, String(kv.version)),
        h("dt", {}, "Lease"),
        h("dd", { "data-fact": "lease" }, kv.lease === 0n ? "none" : leaseHex(kv.lease)),
        h("dt", {}, "Size"),
        h("dd", {}, `${kv.value.length} bytes`),
      ),
      tabs,
      value,
      h("div", { class: "row" }, edit, del, hist),
      this.#notice.el,
      below,
    );
  }

  #editor(kv: KeyValue): HTMLElement {
    const text = utf8(kv.value);
    const area = h("textarea", { name: "new-value", rows: 6 });
    area.value = text ?? "";
    const save = h("button", { type: "submit" }, "Save if unchanged");
    const form = h(
      "form",
      { class: "stack", id: "edit" },
      text === undefined &&
        h("p", { class: "hint" }, "The value is not UTF-8: saving replaces it."),
      area,
      h(
        "p",
        { class: "hint" },
        `Saved only if the key is still at mod revision ${kv.modRevision}.`,
      ),
      save,
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void this.#save(kv, area.value);
    });
    return form;
  }

  async #save(kv: KeyValue, value: string): Promise<void> {
    try {
      const r = await this.#session.run((c) =>
        c.txn()
          .if(cmp.modRevision(kv.key, "=", kv.modRevision))
          .then(op.put(kv.key, value, { ignoreLease: kv.lease !== 0n }))
          .else(op.get(kv.key))
          .commit()
      );
      await this.open(kv.key);
      if (r.succeeded) {
        this.#notice.ok(`Saved at revision ${r.header?.revision ?? "?"}.`);
      } else {
        const now = r.responses[0]?.response.case === "responseRange"
          ? r.responses[0].response.value.kvs[0]
          : undefined;
        this.#notice.error(
          now === undefined
            ? "Not saved: the key was deleted since you opened it."
            : `Not saved: the key changed since you opened it (now at mod revision ` +
              `${now.modRevision}). The current value is shown.`,
        );
      }
      this.#changed();
    } catch (err) {
      this.#notice.error(err);
    }
  }

  async #delete(kv: KeyValue): Promise<void> {
    try {
      const r = await this.#session.run((c) => c.kv.delete(kv.key));
      this.close();
      const name = shortText(kv.key);
      this.#changed(
        r.deleted === 0n
          ? `“${name}” was already gone.`
          : `Deleted “${name}” at revision ${r.header?.revision ?? "?"}.`,
      );
    } catch (err) {
      this.#notice.error(err);
    }
  }

  async #history(from: KeyValue, into: HTMLElement): Promise<void> {
    const rows = h("tbody");
    const status = h("p", { class: "hint", "data-history": "status" });
    replace(
      into,
      h("h4", {}, "History"),
      h(
        "table",
        { class: "history" },
        h(
          "thead",
          {},
          h("tr", {}, h("th", {}, "Modified"), h("th", {}, "Version"), h("th", {}, "Value")),
        ),
        rows,
      ),
      status,
    );
    let start = from;
    const step = async (): Promise<void> => {
      try {
        const hist = await this.#session.run((c) => keyHistory(c, start, HISTORY_STEP + 1));
        // the first version of each later step is the last one of the step before
        const shown = rows.children.length === 0 ? hist.versions : hist.versions.slice(1);
        for (const kv of shown) {
          rows.appendChild(
            h(
              "tr",
              {},
              h("td", {}, String(kv.modRevision)),
              h("td", {}, String(kv.version)),
              h("td", {}, shortText(kv.value)),
            ),
          );
        }
        start = hist.versions[hist.versions.length - 1];
        if (hist.end === "created") {
          replace(status, `Created at revision ${start.createRevision}.`);
        } else if (hist.end === "compacted") {
          status.className = "notice error";
          replace(
            status,
            `Older versions were compacted away: ${errorText(hist.error)}.`,
          );
        } else {
          const more = h("button", { type: "button", name: "older" }, "Older versions");
          more.addEventListener("click", () => void step());
          replace(status, more);
        }
      } catch (err) {
        status.className = "notice error";
        replace(status, errorText(err));
      }
    };
    await step();
  }
}
