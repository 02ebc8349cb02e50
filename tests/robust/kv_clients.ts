/**
 * The KV clients of a real-process run: each a lib/client Client over gRPC to every member,
 * issuing puts, linearizable gets, serializable gets (pinned to one member, so the read's
 * session is known), deletes and compare-and-swap txns on a few keys, and recording the
 * history tests/sim's checkers read: call and return positions in one order of this process's
 * invocations and responses (the real-time order: a response is recorded after it arrived, an
 * invocation before it is sent), the revision each acknowledged write was answered with, and
 * the serializable reads. A write that failed or timed out has an unknown outcome (it may have
 * been applied) unless its failure proves it was not (NOSPACE, no leader, never sent); a read
 * that failed changes nothing and is left out.
 */
import { Client, cmp, Errors, op as reqOp } from "../../lib/client/mod.ts";
import { toEtcdError, writeNotApplied } from "../../lib/client/errors.ts";
import { Rand } from "../../lib/base/rand.ts";
import type { KvInput, KvOp, KvOutput } from "../sim/kv_history.ts";
import type { AckedRevisions, SerialRead } from "../sim/cluster_history.ts";

const dec = new TextDecoder();

/** A write's failure that proves it changed nothing (etcd's NOSPACE, or the client's proof). */
function notApplied(err: unknown): boolean {
  return Errors.noSpace.is(err) || writeNotApplied(toEtcdError(err));
}

/** The run's one order of events and what the clients recorded. */
export class Recorder {
  readonly t0 = performance.now();
  readonly ops: KvOp[] = [];
  readonly revs: AckedRevisions = new Map();
  readonly serial: SerialRead[] = [];
  #tick = 0;

  /** The next position in the order of invocations and responses. */
  tick(): number {
    return this.#tick++;
  }

  /** Milliseconds since the run began (real clock, for traces). */
  ms(): number {
    return Math.round(performance.now() - this.t0);
  }
}

export interface KvClientsOptions {
  /** The members' client URLs. */
  endpoints: string[];
  /** Each member's incarnation (how many times it was started), read when a reply comes. */
  incarnation: (member: number) => number;
  seed: number;
  clients: number;
  keys: number;
  /** A call's deadline; past it a write's outcome is unknown. */
  timeoutMs: number;
  /**
   * A planted bug for proving the run can fail: "linearizable" gets are served as
   * serializable ones by a random member (as a member serving them without ReadIndex would),
   * and recorded as linearizable.
   */
  staleReads?: boolean;
}

/** Clients running the workload until `stop`. */
export class KvClients {
  readonly rec: Recorder;
  /** Calls that failed, by message (counted, for the run's summary). */
  readonly failures = new Map<string, number>();
  readonly #opts: KvClientsOptions;
  readonly #clients: Client[] = [];
  readonly #done: Promise<void>[] = [];
  /** The last value a client saw per key: what a CAS expects. */
  readonly #seen = new Map<string, string | null>();
  #stop = false;
  #nextId = 0;

  constructor(rec: Recorder, opts: KvClientsOptions) {
    this.rec = rec;
    this.#opts = opts;
    for (let c = 0; c < opts.clients; c++) {
      const client = new Client({ endpoints: opts.endpoints, memberDownMs: 1000 });
      this.#clients.push(client);
      this.#done.push(this.#loop(c, client, new Rand(opts.seed * 31 + c + 1)));
    }
  }

  /** Stops issuing and waits for the calls in flight (each bounded by the timeout). */
  async stop(): Promise<void> {
    if (this.#stop) return;
    this.#stop = true;
    await Promise.all(this.#done);
    await Promise.all(this.#clients.map((c) => c.close()));
  }

  async #loop(c: number, client: Client, r: Rand): Promise<void> {
    let n = 0;
    while (!this.#stop) {
      const key = `k/${r.int(this.#opts.keys).toString().padStart(2, "0")}`;
      const value = `c${c}-${n++}`;
      const p = r.float();
      if (p < 0.15) {
        await this.#serializable(c, client, key, r.int(this.#opts.endpoints.length));
        continue;
      }
      const input: KvInput = p < 0.45
        ? { kind: "put", key, value }
        : p < 0.65
        ? { kind: "get", key }
        : p < 0.75
        ? { kind: "delete", key }
        : { kind: "cas", key, expect: this.#seen.get(key) ?? null, value };
      await this.#call(c, client, input);
    }
  }

  async #call(c: number, client: Client, input: KvInput): Promise<void> {
    if (input.kind === "txn" || input.kind === "range") {
      throw new Error(`the real-process clients make no ${input.kind} op`);
    }
    const op: KvOp = {
      id: this.#nextId++,
      client: c,
      input,
      call: this.rec.tick(),
      callMs: this.rec.ms(),
      ret: null,
      output: null,
    };
    const opts = { timeoutMs: this.#opts.timeoutMs };
    let output: KvOutput;
    let rev: number | undefined;
    try {
      switch (input.kind) {
        case "put": {
          const res = await client.put(input.key, input.value, opts);
          output = { kind: "put" };
          rev = Number(res.header?.revision);
          this.#seen.set(input.key, input.value);
          break;
        }
        case "get": {
          const kv = await client.get(
            input.key,
            this.#opts.staleReads ? { ...opts, serializable: true, endpoint: this.#pick() } : opts,
          );
          const value = kv === undefined ? null : dec.decode(kv.value);
          output = { kind: "get", value };
          this.#seen.set(input.key, value);
          break;
        }
        case "delete": {
          const res = await client.kv.delete(input.key, opts);
          output = { kind: "delete", deleted: Number(res.deleted) };
          rev = Number(res.header?.revision);
          this.#seen.set(input.key, null);
          break;
        }
        case "cas": {
          const guard = input.expect === null
            ? cmp.createRevision(input.key, "=", 0)
            : cmp.value(input.key, "=", input.expect);
          const res = await client.txn().if(guard).then(reqOp.put(input.key, input.value)).commit(
            opts,
          );
          output = { kind: "cas", succeeded: res.succeeded };
          rev = Number(res.header?.revision);
          if (res.succeeded) this.#seen.set(input.key, input.value);
          break;
        }
      }
    } catch (err) {
      await this.#failed(err);
      // a read that failed is left out, and so is a write refused before it could apply
      // (NOSPACE, no leader, never sent); another write may have been applied: unknown
      if (input.kind !== "get" && !notApplied(err)) this.rec.ops.push(op);
      return;
    }
    op.ret = this.rec.tick();
    op.retMs = this.rec.ms();
    op.output = output;
    this.rec.ops.push(op);
    if (rev !== undefined) this.rec.revs.set(op.id, rev);
  }

  async #serializable(c: number, client: Client, key: string, member: number): Promise<void> {
    try {
      const res = await client.range(key, {
        serializable: true,
        endpoint: this.#opts.endpoints[member],
        timeoutMs: this.#opts.timeoutMs,
      });
      const kv = res.kvs[0];
      this.rec.serial.push({
        client: c,
        member,
        incarnation: this.#opts.incarnation(member),
        key,
        value: kv === undefined ? null : dec.decode(kv.value),
        rev: Number(res.header?.revision),
        atMs: this.rec.ms(),
      });
    } catch (err) {
      await this.#failed(err);
    }
  }

  #planted = 0;
  /** The member a planted stale read goes to (round-robin). */
  #pick(): string {
    return this.#opts.endpoints[this.#planted++ % this.#opts.endpoints.length];
  }

  /** Counts a failure and backs off a little (a member down fails at once, not in a loop). */
  async #failed(err: unknown): Promise<void> {
    const msg = (err instanceof Error ? err.message : String(err)).slice(0, 80);
    this.failures.set(msg, (this.failures.get(msg) ?? 0) + 1);
    await new Promise((r) => setTimeout(r, 50));
  }
}
