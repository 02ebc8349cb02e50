/// <reference lib="dom" />
/**
 * The Watch page: a live stream of the events under a prefix (from now, or replayed from a
 * revision), newest first, with each event's revision and type. Pausing keeps the stream
 * but stops reading it: events wait in the client's bounded buffer and then on the server
 * (which holds a slow watcher back), and are shown on resume, so nothing is missed.
 */
import {
  type Event,
  Event_EventType,
  FROM_KEY,
  type Watch,
  WatchCompactedError,
} from "../client/browser.ts";
import { field, h, replace } from "./dom.ts";
import { Notice } from "./notice.ts";
import type { Page } from "./page.ts";
import type { Session } from "./session.ts";
import { shortText } from "./value_format.ts";

/** Rows kept on screen; older ones drop off the bottom. */
const MAX_ROWS = 500;

/** The Watch page. */
export class WatchPage implements Page {
  readonly id = "watch";
  readonly title = "Watch";
  readonly el: HTMLElement;
  readonly #session: Session;
  readonly #notice = new Notice();
  readonly #rows = h("tbody");
  readonly #status = h("p", { class: "summary", "data-watch": "status" }, "Not watching.");
  readonly #stop = h("button", { type: "button", name: "stop", disabled: true }, "Stop");
  readonly #pause = h("button", { type: "button", name: "pause", disabled: true }, "Pause");
  #watch?: Watch;
  #what = "";
  #paused = false;
  /** Wakes the reading loop on resume. */
  #resume?: () => void;
  #seen = 0;
  /** The revision of the newest event shown. */
  #shownRev = 0n;
  /** While paused, refreshes the status (what arrived meanwhile). */
  #pausedTimer?: ReturnType<typeof setInterval>;

  /** Made once by the shell. */
  constructor(session: Session) {
    this.#session = session;
    const form = h(
      "form",
      { id: "watch-form", class: "row" },
      h("label", {}, "Prefix ", h("input", { name: "prefix", placeholder: "(every key)" })),
      h(
        "label",
        {},
        "From revision ",
        h("input", { name: "rev", size: 8, inputmode: "numeric", placeholder: "now" }),
      ),
      h("button", { type: "submit" }, "Watch"),
      this.#stop,
      this.#pause,
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.#start(field(form, "prefix"), field(form, "rev").trim());
    });
    this.#stop.addEventListener("click", () => this.#end("Stopped."));
    this.#pause.addEventListener("click", () => this.#togglePause());
    this.el = h(
      "section",
      { class: "page watch" },
      form,
      this.#notice.el,
      this.#status,
      h(
        "table",
        { id: "events" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", {}, "Revision"),
            h("th", {}, "Type"),
            h("th", {}, "Key"),
            h("th", {}, "Value"),
          ),
        ),
        this.#rows,
      ),
    );
    // a login or logout closes the client the watch ran on
    session.onChange(() => this.#end("Stopped: the user changed."));
  }

  show(): void {}

  hide(): void {}

  #start(prefix: string, rev: string): void {
    this.#end();
    this.#notice.clear();
    if (rev !== "" && !/^[0-9]+$/.test(rev)) {
      this.#notice.error(`“${rev}” is not a revision number`);
      return;
    }
    const span = prefix === ""
      ? { key: new Uint8Array([0]), end: FROM_KEY }
      : { key: prefix, prefix: true };
    const w = this.#session.client.watch(span.key, {
      ...("end" in span ? { end: span.end } : { prefix: true }),
      startRevision: rev === "" ? undefined : BigInt(rev),
    });
    this.#watch = w;
    this.#what = prefix === "" ? "every key" : `keys under “${prefix}”`;
    this.#seen = 0;
    this.#shownRev = 0n;
    this.#paused = false;
    replace(this.#rows);
    replace(this.#pause, "Pause");
    this.#stop.disabled = false;
    this.#pause.disabled = false;
    replace(this.#status, `Starting a watch on ${this.#what}…`);
    void this.#consume(w);
  }

  async #consume(w: Watch): Promise<void> {
    try {
      await w.ready;
      if (w === this.#watch) this.#describe();
      for await (const r of w) {
        while (this.#paused && w === this.#watch) {
          await new Promise<void>((wake) => this.#resume = wake);
        }
        if (w !== this.#watch) break;
        for (const e of r.events) {
          this.#seen++;
          this.#add(e);
        }
        this.#describe();
      }
    } catch (err) {
      if (w !== this.#watch) return;
      this.#session.check(err);
      this.#end("The watch ended.");
      if (err instanceof WatchCompactedError) {
        this.#notice.error(
          `${err.message}: history from revision ${err.compactRevision} on is still available`,
        );
      } else this.#notice.error(err);
    }
  }

  #describe(): void {
    const w = this.#watch;
    let text = `Watching ${this.#what}: ${this.#seen} events`;
    if (w && this.#paused) {
      // the client reads on while the page does not: it has received up to nextRevision - 1
      const received = w.nextRevision - 1n;
      text += received > this.#shownRev
        ? `; paused, events up to revision ${received} wait until you resume`
        : "; paused";
    } else if (w) text += `, next revision ${w.nextRevision}`;
    replace(this.#status, text + ".");
  }

  #add(e: Event): void {
    const kv = e.kv!;
    const type = Event_EventType[e.type] ?? String(e.type);
    const row = h(
      "tr",
      { class: type.toLowerCase(), "data-key": shortText(kv.key, 1000) },
      h("td", {}, String(kv.modRevision)),
      h("td", {}, type),
      h("td", {}, shortText(kv.key)),
      h("td", {}, e.type === Event_EventType.DELETE ? "" : shortText(kv.value)),
    );
    this.#shownRev = kv.modRevision;
    this.#rows.insertBefore(row, this.#rows.firstChild);
    while (this.#rows.children.length > MAX_ROWS) this.#rows.lastChild!.remove();
  }

  #togglePause(): void {
    this.#paused = !this.#paused;
    replace(this.#pause, this.#paused ? "Resume" : "Pause");
    clearInterval(this.#pausedTimer);
    if (this.#paused) this.#pausedTimer = setInterval(() => this.#describe(), 250);
    else this.#wake();
    this.#describe();
  }

  #wake(): void {
    const wake = this.#resume;
    this.#resume = undefined;
    wake?.();
  }

  #end(why?: string): void {
    const w = this.#watch;
    this.#watch = undefined;
    w?.cancel();
    this.#stop.disabled = true;
    this.#pause.disabled = true;
    this.#paused = false;
    clearInterval(this.#pausedTimer);
    replace(this.#pause, "Pause");
    this.#wake();
    if (w && why) replace(this.#status, `${why} ${this.#seen} events seen.`);
  }
}
