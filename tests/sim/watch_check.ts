/**
 * Watch guarantees as etcd states them, checked against the cluster's recorded history: each
 * watcher's events are ordered, unique, atomic (a revision's events in one response) and
 * reliable and resumable — from the revision it asked for up to the last one it got, it saw
 * exactly the events the history has, with their values (and previous values, with prev_kv),
 * minus the types its filters drop, and nothing else. A watcher from a compacted revision gets
 * the compacted response, and only then. A progress notification at revision R (etcd 3.5's
 * RequestProgress) comes only once every event up to R was delivered, and none at or below R
 * follows it.
 */
import { EventType } from "../../lib/mvcc/types.ts";
import type { KeyValue } from "../../lib/mvcc/types.ts";
import { WatchFilter } from "../../lib/mvcc/watch_types.ts";
import type { WatchSource } from "./planted_watch_bug.ts";
import { PROGRESS_ALL_WATCH_ID } from "../../lib/mvcc/watch_types.ts";
import type { HistoryView } from "./history_archive.ts";

const dec = new TextDecoder();

/** One event as text: `PUT k1=v@7`, `DELETE k1@9`; with prev_kv ` prev=v0@5` or ` prev=-`. */
export type EventText = string;

/** A watcher's options (besides its start revision). */
export interface WatchOptions {
  prevKv: boolean;
  noPut: boolean;
  noDelete: boolean;
}

export const NO_OPTIONS: WatchOptions = { prevKv: false, noPut: false, noDelete: false };

/** A watcher over every key on one member incarnation, and what it received. */
export interface WatchRecord {
  name: string;
  startRev: number;
  opts: WatchOptions;
  stream: WatchSource;
  /** Per response, its events. */
  responses: { rev: number; events: { rev: number; text: EventText }[] }[];
  /** Ended by a crash, a stop, a cancel or a compaction: nothing more is expected of it. */
  ended: boolean;
  /** The compacted response's compact revision, when the watcher got one. */
  compacted?: number;
  /** Progress notifications: their revision, and how many responses came before each. */
  progress: { rev: number; after: number }[];
}

/** Starts a watch over all keys from `startRev` (the hub answers from the store's history). */
export function watchAll(
  name: string,
  stream: WatchSource,
  startRev: number,
  opts: WatchOptions = NO_OPTIONS,
): WatchRecord {
  stream.watch({
    key: new Uint8Array([0]),
    rangeEnd: new Uint8Array([0]),
    startRevision: startRev,
    prevKv: opts.prevKv,
    filters: [
      ...(opts.noPut ? [WatchFilter.NOPUT] : []),
      ...(opts.noDelete ? [WatchFilter.NODELETE] : []),
    ],
  });
  return { name, startRev, opts, stream, responses: [], ended: false, progress: [] };
}

function eventText(
  type: "PUT" | "DELETE",
  key: string,
  kv: KeyValue | undefined,
  rev: number,
  prev: KeyValue | undefined | null,
): EventText {
  const head = type === "PUT"
    ? `PUT ${key}=${dec.decode(kv!.value)}@${rev}`
    : `DELETE ${key}@${rev}`;
  if (prev === null) return head;
  return `${head} prev=${
    prev === undefined ? "-" : `${dec.decode(prev.value)}@${prev.modRevision}`
  }`;
}

/** Takes what the stream has queued. */
export function drain(w: WatchRecord): void {
  if (w.ended) return;
  for (let r = w.stream.tryNext(); r !== undefined; r = w.stream.tryNext()) {
    if (r.compactRevision > 0) w.compacted = r.compactRevision;
    if (r.canceled || r.compactRevision > 0) {
      w.ended = true;
      return;
    }
    if (r.events.length === 0) {
      if (r.watchId === PROGRESS_ALL_WATCH_ID && !r.created) {
        w.progress.push({ rev: r.revision, after: w.responses.length });
      }
      continue;
    }
    w.responses.push({
      rev: r.revision,
      events: r.events.map((e) => ({
        rev: e.kv.modRevision,
        text: eventText(
          e.type === EventType.PUT ? "PUT" : "DELETE",
          dec.decode(e.kv.key),
          e.kv,
          e.kv.modRevision,
          w.opts.prevKv ? e.prevKv : null,
        ),
      })),
    });
  }
}

/**
 * The events of every revision 1..rev of the history, as a watcher with `opts` must see them.
 */
export function referenceEvents(
  view: HistoryView,
  opts: WatchOptions = NO_OPTIONS,
): Map<number, EventText[]> {
  const out = new Map<number, EventText[]>();
  const keys = view.keys();
  for (let rev = 1; rev <= view.rev(); rev++) {
    const evs: EventText[] = [];
    for (const key of keys) {
      const now = view.at(key, rev);
      const before = rev > 1 ? view.at(key, rev - 1) : undefined;
      const prev = opts.prevKv ? before : null;
      if (now !== undefined && now.modRevision === rev) {
        if (!opts.noPut) evs.push(eventText("PUT", key, now, rev, prev));
      } else if (now === undefined && before !== undefined) {
        if (!opts.noDelete) evs.push(eventText("DELETE", key, undefined, rev, prev));
      }
    }
    if (evs.length > 0) out.set(rev, evs.sort());
  }
  return out;
}

/**
 * A compacted response is due only to a watcher that still needed a revision below the
 * compaction, and names a revision some compaction asked for.
 */
export function checkCompacted(
  w: Pick<WatchRecord, "name" | "startRev" | "responses" | "compacted">,
  compactions: ReadonlySet<number>,
): string[] {
  if (w.compacted === undefined) return [];
  const last = w.responses.at(-1)?.events.at(-1)?.rev;
  const next = last === undefined ? w.startRev : last + 1;
  const bad: string[] = [];
  if (next >= w.compacted) {
    bad.push(
      `${w.name}: compacted response at ${w.compacted}, but it needed revision ${next} on`,
    );
  }
  if (!compactions.has(w.compacted)) {
    bad.push(`${w.name}: compacted response at ${w.compacted}, which no compaction asked for`);
  }
  return bad;
}

/**
 * Violations of one watcher; `upTo` > 0 demands it reached that revision (a live watcher).
 * Events at or below `compactedUpTo` (the highest compaction asked for) may lack their
 * previous value.
 */
export function checkWatch(
  w: Pick<WatchRecord, "name" | "startRev" | "responses">,
  ref: Map<number, EventText[]>,
  upTo: number,
  compactedUpTo = 0,
): string[] {
  const bad: string[] = [];
  const got = new Map<number, EventText[]>();
  let last = 0;
  for (const resp of w.responses) {
    const revs = new Set(resp.events.map((e) => e.rev));
    for (const rev of revs) {
      if (rev <= last) {
        bad.push(`${w.name}: event at rev ${rev} after rev ${last} (ordered, unique)`);
      }
      if (got.has(rev)) bad.push(`${w.name}: rev ${rev} split across responses (atomic)`);
    }
    for (const e of resp.events) {
      const l = got.get(e.rev) ?? [];
      l.push(e.text);
      got.set(e.rev, l);
      last = Math.max(last, e.rev);
    }
  }
  const end = Math.max(last, upTo);
  for (let rev = w.startRev; rev <= end; rev++) {
    const haveList = got.get(rev) ?? [];
    let wantList = ref.get(rev) ?? [];
    if (rev <= compactedUpTo) {
      // etcd reads an event's previous value at the revision before it and sends the event
      // without it when that revision is compacted by then
      wantList = wantList.map((t) => {
        const bare = `${t.slice(0, t.indexOf(" prev="))} prev=-`;
        return t.includes(" prev=") && haveList.includes(bare) ? bare : t;
      });
    }
    const want = JSON.stringify([...wantList].sort());
    const have = JSON.stringify([...haveList].sort());
    if (want !== have) {
      bad.push(
        `${w.name} (from rev ${w.startRev}): at rev ${rev} got ${have}, the history has ${want}`,
      );
    }
  }
  for (const rev of got.keys()) {
    if (rev < w.startRev) {
      bad.push(`${w.name}: event at rev ${rev} before its start rev ${w.startRev}`);
    }
  }
  return bad;
}

/**
 * Violations of the progress notifications a watcher got: one at revision R comes after every
 * event up to R it must see (from `ref`), only events above R follow it, and its revisions
 * never go back.
 */
export function checkProgress(
  w: Pick<WatchRecord, "name" | "startRev" | "responses" | "progress">,
  ref: Map<number, EventText[]>,
): string[] {
  const bad: string[] = [];
  const wanted = [...ref.keys()].filter((rev) => rev >= w.startRev).sort((a, b) => a - b);
  let prev = 0;
  for (const p of w.progress) {
    if (p.rev < prev) bad.push(`${w.name}: progress at rev ${p.rev} after one at ${prev}`);
    prev = Math.max(prev, p.rev);
    const seen = new Set<number>();
    for (const resp of w.responses.slice(0, p.after)) for (const e of resp.events) seen.add(e.rev);
    const missing = wanted.find((rev) => rev <= p.rev && !seen.has(rev));
    if (missing !== undefined) {
      bad.push(
        `${w.name}: progress notification at rev ${p.rev} before the event at rev ${missing}`,
      );
    }
    const next = w.responses[p.after]?.events[0]?.rev;
    if (next !== undefined && next <= p.rev) {
      bad.push(`${w.name}: event at rev ${next} after a progress notification at rev ${p.rev}`);
    }
  }
  return bad;
}
