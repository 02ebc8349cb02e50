/**
 * The admin client of a real-process run, through lib/client over gRPC, as tests/sim's
 * compaction workload: compactions at recent revisions (physical or not; the run's history
 * reader reads every revision up to a compaction's before it is asked for), defrags of a
 * random member, each followed by an `etcdctl endpoint hashkv`-like check (every member that
 * reached the defragged member's revision and has the same compacted revision must have the
 * same hash there), and ranges over every key at a past revision, linearizable or
 * serializable. It records tests/sim's `AdminRecords` for `checkAdmin`, on the same order of
 * calls and returns as the KV clients (`Recorder.tick`).
 */
import type { ClosedDefrag } from "./closed_defrags.ts";
import { Client, Errors, type EtcdError, GrpcCode } from "../../lib/client/mod.ts";
import { toEtcdError } from "../../lib/client/errors.ts";
import { Rand } from "../../lib/base/rand.ts";
import type { AdminRecords, CompactionRecord } from "../sim/compaction_workload.ts";
import type { HistoryReader } from "./history_reader.ts";
import type { Recorder } from "./kv_clients.ts";

const dec = new TextDecoder();
const COMPACTED = Errors.compacted().message;
const FUTURE = Errors.futureRev().message;

export interface AdminClientOptions {
  endpoints: string[];
  seed: number;
  timeoutMs: number;
  /** Pause between operations (ms, drawn up to it). */
  pauseMs: number;
  /** How far behind the newest revision a compaction goes (drawn up to it). */
  behind: number;
}

/** Failures that say the member could not answer (down, stopped, cut off): not a finding. */
function unreachable(e: EtcdError): boolean {
  return e.code === GrpcCode.Unavailable || e.code === GrpcCode.DeadlineExceeded ||
    e.code === GrpcCode.Canceled;
}

/** Runs admin operations until `stop`. */
export class AdminClient {
  readonly records: AdminRecords = { compactions: [], reads: [], defrags: 0, defragFailures: [] };
  /** hashKV disagreements after defrags (violations), and how many checks compared hashes. */
  readonly hashMismatches: string[] = [];
  hashChecks = 0;
  /** Defrags that failed because their member could not answer. */
  defragsUnreachable = 0;
  /**
   * Defrags that failed with `backend is closed`: allowed only where their member's log
   * shows a stop under them (closed_defrags.ts, once the run is over).
   */
  readonly defragsClosed: ClosedDefrag[] = [];
  readonly #rec: Recorder;
  readonly #reader: HistoryReader;
  readonly #opts: AdminClientOptions;
  readonly #client: Client;
  readonly #done: Promise<void>;
  #stop = false;
  /** The newest revision some answer carried. */
  #top = 1;

  constructor(rec: Recorder, reader: HistoryReader, opts: AdminClientOptions) {
    this.#rec = rec;
    this.#reader = reader;
    this.#opts = opts;
    this.#client = new Client({ endpoints: opts.endpoints, memberDownMs: 1000 });
    this.#done = this.#loop(new Rand(opts.seed * 13 + 7));
  }

  /** Stops and waits for the operation in flight. */
  async stop(): Promise<void> {
    if (this.#stop) return;
    this.#stop = true;
    await this.#done;
    await this.#client.close();
  }

  /** Compactions in one loop; defrags and past reads in another, half as often. */
  async #loop(r: Rand): Promise<void> {
    const pause = (ms: number) => new Promise((res) => setTimeout(res, r.int(ms)));
    const compactions = async () => {
      while (!this.#stop) {
        await pause(this.#opts.pauseMs);
        if (!this.#stop) await this.#compact(r);
      }
    };
    const others = async () => {
      while (!this.#stop) {
        await pause(2 * this.#opts.pauseMs);
        if (this.#stop) break;
        if (r.chance(0.6)) await this.#pastRead(r);
        else await this.#defrag(r.int(this.#opts.endpoints.length));
      }
    };
    await Promise.all([compactions(), others()]);
  }

  /** The cluster's newest revision, by a linearizable read (null: no answer). */
  async #newest(): Promise<number | null> {
    try {
      const res = await this.#client.range("k/", { timeoutMs: this.#opts.timeoutMs });
      this.#top = Math.max(this.#top, Number(res.header?.revision));
      return this.#top;
    } catch {
      return null;
    }
  }

  async #pastRead(r: Rand): Promise<void> {
    const top = await this.#newest();
    if (top === null) return;
    const m = r.int(this.#opts.endpoints.length);
    // near the newest revision, so that some answer and some meet a compaction
    const rev = Math.max(1, top - r.int(3 * this.#opts.behind));
    const linearizable = r.chance(0.6);
    const call = this.#rec.tick();
    let outcome: { kvs: string } | { error: string };
    try {
      const res = await this.#client.range("\0", {
        fromKey: true,
        revision: rev,
        serializable: !linearizable,
        endpoint: this.#opts.endpoints[m],
        timeoutMs: this.#opts.timeoutMs,
      });
      outcome = {
        kvs: res.kvs.map((kv) => `${dec.decode(kv.key)}=${dec.decode(kv.value)}@${kv.modRevision}`)
          .join(", "),
      };
    } catch (err) {
      const message = toEtcdError(err).message;
      if (message !== COMPACTED && message !== FUTURE) return;
      outcome = { error: message };
    }
    this.records.reads.push({
      member: `m${m + 1}`,
      rev,
      linearizable,
      call,
      ret: this.#rec.tick(),
      outcome,
    });
  }

  async #compact(r: Rand): Promise<void> {
    // every revision below the compaction's must be read first: most of them, then the few
    // written meanwhile, so that the compaction is as recent as drawn
    const before = await this.#newest();
    if (before === null) return;
    await this.#reader.catchUp(before);
    const top = await this.#newest();
    if (top === null) return;
    const rev = Math.max(1, top - r.int(this.#opts.behind));
    await this.#reader.catchUp(rev);
    const c: CompactionRecord = { rev, call: this.#rec.tick(), ret: null, error: null };
    this.records.compactions.push(c);
    try {
      await this.#client.kv.compact(rev, {
        physical: r.chance(0.5),
        timeoutMs: this.#opts.timeoutMs,
      });
      c.ret = this.#rec.tick();
    } catch (err) {
      const e = toEtcdError(err);
      // an answer from the cluster; a transport failure leaves the outcome unknown
      if (!unreachable(e)) {
        c.ret = this.#rec.tick();
        c.error = e.message;
      }
    }
  }

  async #defrag(m: number): Promise<void> {
    const endpoint = this.#opts.endpoints[m];
    this.records.defrags++;
    const callMs = Date.now();
    try {
      await this.#client.maintenance.defragment({ endpoint, timeoutMs: 20_000 });
    } catch (err) {
      const e = toEtcdError(err);
      if (unreachable(e)) this.defragsUnreachable++;
      else if (e.message.endsWith("backend is closed")) {
        this.defragsClosed.push({ member: m, callMs, retMs: Date.now() });
      } else this.records.defragFailures.push(`defrag of m${m + 1} failed: ${e.message}`);
      return;
    }
    await this.#hashCheck(m);
  }

  /**
   * `etcdctl endpoint hashkv` at the defragged member's revision: members at or past it with
   * the same compacted revision must agree.
   */
  async #hashCheck(m: number): Promise<void> {
    const eps = this.#opts.endpoints;
    let rev: number;
    try {
      const s = await this.#client.maintenance.status({
        endpoint: eps[m],
        timeoutMs: this.#opts.timeoutMs,
      });
      rev = Number(s.header?.revision);
    } catch {
      return;
    }
    const got = await Promise.all(eps.map(async (endpoint, i) => {
      try {
        const h = await this.#client.maintenance.hashKV(rev, {
          endpoint,
          timeoutMs: this.#opts.timeoutMs,
        });
        return { i, hash: h.hash, compacted: Number(h.compactRevision) };
      } catch {
        return null; // behind (a future revision), compacted past it, or down
      }
    }));
    const byCompaction = new Map<number, { i: number; hash: number }[]>();
    for (const g of got) {
      if (g === null) continue;
      const l = byCompaction.get(g.compacted) ?? [];
      l.push(g);
      byCompaction.set(g.compacted, l);
    }
    for (const [compacted, l] of byCompaction) {
      if (l.length < 2) continue;
      this.hashChecks++;
      if (new Set(l.map((g) => g.hash)).size > 1) {
        this.hashMismatches.push(
          `hashKV at rev ${rev} (compacted at ${compacted}) after defragmenting m${m + 1}: ` +
            l.map((g) => `m${g.i + 1} ${g.hash}`).join(", "),
        );
      }
    }
  }
}
