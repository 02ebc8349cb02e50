/**
 * Watch guarantees as etcd states them, checked against the healed cluster's history: each
 * watcher's events are ordered, unique, atomic (a revision's events in one response) and
 * reliable and resumable — from the revision it asked for up to the last one it got, it saw
 * exactly the events the history has, with their values, and nothing else.
 */
import { EventType } from "../../lib/mvcc/types.ts";
import type { MvccStore } from "../../lib/mvcc/kv_store.ts";
import type { WatchStream } from "../../lib/mvcc/watch_hub.ts";

const dec = new TextDecoder();

/** One event as text: `PUT k1=v@7` or `DELETE k1@9`. */
export type EventText = string;

/** A watcher over every key on one member incarnation, and what it received. */
export interface WatchRecord {
  name: string;
  startRev: number;
  stream: WatchStream;
  /** Per response, its events. */
  responses: { rev: number; events: { rev: number; text: EventText }[] }[];
  /** Ended by a crash, a stop, a cancel or a compaction: nothing more is expected of it. */
  ended: boolean;
}

/** Starts a watch over all keys from `startRev` (the hub answers from the store's history). */
export function watchAll(name: string, stream: WatchStream, startRev: number): WatchRecord {
  stream.watch({
    key: new Uint8Array([0]),
    rangeEnd: new Uint8Array([0]),
    startRevision: startRev,
  });
  return { name, startRev, stream, responses: [], ended: false };
}

/** Takes what the stream has queued. */
export function drain(w: WatchRecord): void {
  if (w.ended) return;
  for (let r = w.stream.tryNext(); r !== undefined; r = w.stream.tryNext()) {
    if (r.canceled || r.compactRevision > 0) {
      w.ended = true;
      return;
    }
    if (r.events.length === 0) continue;
    w.responses.push({
      rev: r.revision,
      events: r.events.map((e) => ({
        rev: e.kv.modRevision,
        text: e.type === EventType.PUT
          ? `PUT ${dec.decode(e.kv.key)}=${dec.decode(e.kv.value)}@${e.kv.modRevision}`
          : `DELETE ${dec.decode(e.kv.key)}@${e.kv.modRevision}`,
      })),
    });
  }
}

/** The events of every revision 1..rev of `keys`, as the final store's history has them. */
export function referenceEvents(
  store: MvccStore,
  keys: readonly string[],
): Map<number, EventText[]> {
  const out = new Map<number, EventText[]>();
  const at = (key: string, rev: number) =>
    rev < 1 ? undefined : store.range({ key, end: undefined }, { rev }).kvs[0];
  for (let rev = 1; rev <= store.rev(); rev++) {
    const evs: EventText[] = [];
    for (const key of keys) {
      const now = at(key, rev);
      if (now !== undefined && now.modRevision === rev) {
        evs.push(`PUT ${key}=${dec.decode(now.value)}@${rev}`);
      } else if (now === undefined && at(key, rev - 1) !== undefined) {
        evs.push(`DELETE ${key}@${rev}`);
      }
    }
    if (evs.length > 0) out.set(rev, evs.sort());
  }
  return out;
}

/** Violations of one watcher; `upTo` > 0 demands it reached that revision (a live watcher). */
export function checkWatch(
  w: Pick<WatchRecord, "name" | "startRev" | "responses">,
  ref: Map<number, EventText[]>,
  upTo: number,
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
    const want = JSON.stringify(ref.get(rev) ?? []);
    const have = JSON.stringify((got.get(rev) ?? []).sort());
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
