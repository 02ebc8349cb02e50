/**
 * One watcher per member for a real-process run: a lib/client watch over every workload key
 * from revision 1, opened on its member first (the client's endpoints start there) and
 * resumed by the client on another member when its stream breaks, at the revision after the
 * last one delivered. What it receives is recorded as tests/sim's watch checker reads it
 * (`checkWatch`: ordered, unique, atomic, and exactly the history's events with their values,
 * and previous values with prev_kv). A watch whose next revision was compacted fails with
 * etcd's compacted response (`WatchCompactedError`); the watcher records it and goes on from
 * the compaction's revision, as a clientv3 user does, so its record is a series of segments.
 */
import { Client, isProgressNotify, type Watch, WatchCompactedError } from "../../lib/client/mod.ts";
import type { Event } from "../../proto/gen/mvccpb/kv_pb.ts";
import { Event_EventType } from "../../proto/gen/mvccpb/kv_pb.ts";
import type { EventText, WatchOptions } from "../sim/watch_check.ts";

const dec = new TextDecoder();

/** What one watcher received, in the shape the watch checker reads. */
export interface WatchLog {
  name: string;
  startRev: number;
  opts: WatchOptions;
  responses: { rev: number; events: { rev: number; text: EventText }[] }[];
  /** The highest event revision received (0: none). */
  lastRev: number;
  /** How many times the client moved the watch to another stream. */
  resumes: number;
  /** How many times the watcher cancelled its watch and opened it again where it was. */
  reopened: number;
  /**
   * The compacted responses: the compaction's revision (where the watcher went on from) and
   * how many responses came before. Each starts a new segment of the record.
   */
  compacted: { rev: number; after: number }[];
  /**
   * Progress notifications: their revision, how many responses came before, and the stream
   * they came on (`resumes + reopened + compacted.length` then): a stream resumed on a member
   * that is behind may answer a lower revision than the last stream did, so order is checked
   * per stream; and the segment (how many compacted responses came before).
   */
  progress: { rev: number; after: number; stream: number; segment: number }[];
  /** Why the watch ended before it was stopped, if it did. */
  error?: string;
}

/** An event as the checker writes it: `PUT k=v@7`, `DELETE k@9`, with prev_kv ` prev=v0@5`. */
export function eventText(e: Event, prevKv: boolean): EventText {
  const kv = e.kv!;
  const key = dec.decode(kv.key);
  const rev = Number(kv.modRevision);
  const head = e.type === Event_EventType.PUT
    ? `PUT ${key}=${dec.decode(kv.value)}@${rev}`
    : `DELETE ${key}@${rev}`;
  if (!prevKv) return head;
  const p = e.prevKv;
  return `${head} prev=${
    p === undefined ? "-" : `${dec.decode(p.value)}@${Number(p.modRevision)}`
  }`;
}

/** A watcher on one member, recording until stopped. */
export class MemberWatcher {
  readonly log: WatchLog;
  readonly #client: Client;
  readonly #prefix: string;
  readonly #resumeEveryMs: number;
  #watch: Watch | null = null;
  readonly #done: Promise<void>;
  #stopped = false;
  /** Client-side resumes of the watches before the current one. */
  #pastResumes = 0;
  readonly #lagMs: number;
  /** The watch was cancelled to be reopened: wait `#lagMs` first. */
  #reopening = false;

  /**
   * Watches prefix `prefix` from revision 1 on `endpoints[member]` first; every
   * `resumeEveryMs` (0: never) it cancels its watch and opens a new one at the revision after
   * the last event it got, so the record also checks that a resumed watch misses nothing;
   * `lagMs` after it cancelled (0: at once), so that a compaction may pass it meanwhile and
   * it gets the compacted response.
   */
  constructor(
    endpoints: string[],
    member: number,
    prefix: string,
    opts: WatchOptions,
    resumeEveryMs = 0,
    lagMs = 0,
  ) {
    this.#lagMs = lagMs;
    const rotated = [...endpoints.slice(member), ...endpoints.slice(0, member)];
    this.#client = new Client({
      endpoints: rotated,
      memberDownMs: 1000,
      watchProbeIntervalMs: 2000,
      watchProbeTimeoutMs: 1000,
    });
    this.#prefix = prefix;
    this.#resumeEveryMs = resumeEveryMs;
    this.log = {
      name: `watcher@m${member + 1}${opts.prevKv ? "+prev_kv" : ""}`,
      startRev: 1,
      opts,
      responses: [],
      lastRev: 0,
      resumes: 0,
      reopened: 0,
      compacted: [],
      progress: [],
    };
    this.#done = this.#record();
  }

  async #record(): Promise<void> {
    const opts = this.log.opts;
    /** Where the next watch starts: after the last event, or at a compaction past it. */
    let from = 1;
    while (!this.#stopped) {
      if (this.#reopening && this.#lagMs > 0) {
        await new Promise((r) => setTimeout(r, this.#lagMs));
        if (this.#stopped) break;
      }
      this.#reopening = false;
      from = Math.max(from, this.log.lastRev + 1);
      const w = this.#watch = this.#client.watch(this.#prefix, {
        prefix: true,
        startRevision: from,
        prevKv: opts.prevKv,
        noPut: opts.noPut,
        noDelete: opts.noDelete,
      });
      const timer = this.#resumeEveryMs > 0
        ? setTimeout(() => {
          this.log.reopened++;
          this.#reopening = true;
          w.cancel();
        }, this.#resumeEveryMs)
        : undefined;
      try {
        for await (const r of w) {
          this.log.resumes = this.#pastResumes + w.resumes;
          if (isProgressNotify(r)) {
            this.log.progress.push({
              rev: Number(r.header!.revision),
              after: this.log.responses.length,
              stream: this.log.resumes + this.log.reopened + this.log.compacted.length,
              segment: this.log.compacted.length,
            });
          }
          if (r.events.length === 0) continue;
          const events = r.events.map((e) => ({
            rev: Number(e.kv!.modRevision),
            text: eventText(e, opts.prevKv),
          }));
          this.log.responses.push({ rev: Number(r.header?.revision), events });
          this.log.lastRev = Math.max(this.log.lastRev, ...events.map((e) => e.rev));
        }
      } catch (err) {
        if (err instanceof WatchCompactedError && !this.#stopped) {
          from = Number(err.compactRevision);
          this.log.compacted.push({ rev: from, after: this.log.responses.length });
          continue;
        }
        this.log.error = err instanceof Error ? err.message : String(err);
        return;
      } finally {
        clearTimeout(timer);
        this.#pastResumes += w.resumes;
        this.log.resumes = this.#pastResumes;
      }
    }
  }

  /**
   * Asks the current stream's member for a progress notification (etcd 3.5's
   * RequestProgress); between streams the request waits for the next one.
   */
  requestProgress(): void {
    if (this.#watch?.active) this.#watch.requestProgress();
  }

  /** Waits until the watcher received revision `rev` (or ended); false on the deadline. */
  async reach(rev: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.log.lastRev < rev && this.log.error === undefined) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.log.lastRev >= rev;
  }

  /** Ends the watch and closes its client (again: nothing more). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#watch?.cancel();
    await this.#done;
    await this.#client.close();
  }
}
