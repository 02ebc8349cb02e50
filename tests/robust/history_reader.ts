/**
 * The cluster's history of revisions read back over gRPC during and at the end of a
 * real-process run: a Range of every key at each revision, turned into the per-key changes
 * tests/sim's checkers read (`HistoryView`). The run compacts, so the revisions up to a
 * compaction are read before it is asked for (`HistoryReader.catchUp`), the rest at the end.
 * Ranges, not a watch, so the reference the watchers are checked against does not come from
 * the watch code under test. Every revision past 1 must change some key.
 */
import { type Client, Errors } from "../../lib/client/mod.ts";
import type { Change, HistoryView } from "../sim/history_archive.ts";
import type { KeyValue } from "../../lib/mvcc/types.ts";
import type { KeyValue as PbKeyValue } from "../../proto/gen/mvccpb/kv_pb.ts";

const dec = new TextDecoder();

/** A history of revisions held in memory, as read (or as a test edits it). */
export class ReadHistory implements HistoryView {
  readonly #changes = new Map<string, Change[]>();
  #rev = 1;
  /** Revisions that changed no key, and other defects of what was read. */
  readonly defects: string[] = [];

  rev(): number {
    return this.#rev;
  }

  keys(): string[] {
    return [...this.#changes.keys()];
  }

  /** The key's value at `rev`: a binary search of its changes (the checkers ask per revision). */
  at(key: string, rev: number): KeyValue | undefined {
    const l = this.#changes.get(key);
    if (l === undefined) return undefined;
    let lo = 0;
    let hi = l.length; // the first change after rev
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (l[mid].rev <= rev) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? undefined : l[lo - 1].kv;
  }

  changes(key: string): readonly Change[] {
    return this.#changes.get(key) ?? [];
  }

  /** Appends revision `rev`'s state (every key present at it), recording what changed. */
  push(rev: number, kvs: KeyValue[]): void {
    if (rev !== this.#rev + 1) throw new Error(`revision ${rev} after ${this.#rev}`);
    const now = new Set<string>();
    let changed = 0;
    for (const kv of kvs) {
      const k = dec.decode(kv.key);
      now.add(k);
      if (kv.modRevision === rev) {
        this.#change(k, { rev, kv, seenMs: 0 });
        changed++;
      }
    }
    for (const k of this.keys()) {
      if (!now.has(k) && this.at(k, rev - 1) !== undefined) {
        this.#change(k, { rev, kv: undefined, seenMs: 0 });
        changed++;
      }
    }
    if (changed === 0) this.defects.push(`revision ${rev} changed no key`);
    this.#rev = rev;
  }

  /** Removes the change of `key` at `rev` (a test plants a lost write this way). */
  forget(key: string, rev: number): boolean {
    const l = this.#changes.get(key);
    const i = l?.findIndex((c) => c.rev === rev) ?? -1;
    if (i < 0) return false;
    l!.splice(i, 1);
    return true;
  }

  #change(key: string, c: Change): void {
    let l = this.#changes.get(key);
    if (l === undefined) this.#changes.set(key, l = []);
    l.push(c);
  }
}

function toKv(kv: PbKeyValue): KeyValue {
  return {
    key: kv.key,
    createRevision: Number(kv.createRevision),
    modRevision: Number(kv.modRevision),
    version: Number(kv.version),
    value: kv.value,
    lease: kv.lease,
  };
}

/**
 * Reads the history revision by revision as the run goes, so that a compaction never reaches
 * a revision not yet read: `catchUp(R)` before compacting at R.
 */
export class HistoryReader {
  readonly history = new ReadHistory();
  readonly #client: Client;
  readonly #endpoint: string | undefined;
  /** One catch-up at a time (the admin client's and the end's). */
  #busy: Promise<void> = Promise.resolve();

  /** Reads through `client`, from `endpoint` only when given (else any member, retried). */
  constructor(client: Client, endpoint?: string) {
    this.#client = client;
    this.#endpoint = endpoint;
  }

  /**
   * Reads every revision up to `upTo` not read yet, `parallel` ranges at a time; a range that
   * fails (a member down, a leader change) is tried again until `timeoutMs` has passed.
   */
  catchUp(upTo: number, timeoutMs = 60_000, parallel = 8): Promise<void> {
    const run = this.#busy.then(() => this.#read(upTo, timeoutMs, parallel));
    this.#busy = run.catch(() => {});
    return run;
  }

  async #read(upTo: number, timeoutMs: number, parallel: number): Promise<void> {
    const h = this.history;
    const deadline = Date.now() + timeoutMs;
    const states = new Map<number, KeyValue[]>();
    let next = h.rev() + 1;
    const worker = async () => {
      while (next <= upTo) {
        const rev = next++;
        for (;;) {
          try {
            const r = await this.#client.range("\0", {
              fromKey: true,
              revision: rev,
              endpoint: this.#endpoint,
              timeoutMs: 10_000,
            });
            if (r.more) throw new Error(`range at ${rev} was cut short`);
            states.set(rev, r.kvs.map(toKv));
            break;
          } catch (err) {
            if (Errors.compacted.is(err)) {
              throw new Error(`revision ${rev} was compacted before the run read it`);
            }
            if (Date.now() > deadline) {
              throw new Error(`could not read revision ${rev} of the history: ${err}`);
            }
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    for (let rev = h.rev() + 1; rev <= upTo; rev++) h.push(rev, states.get(rev)!);
  }
}
