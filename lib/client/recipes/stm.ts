/**
 * Software transactional memory (clientv3/concurrency's STM): `apply` reads and writes
 * keys through an `Stm`; its writes are committed in one txn guarded by what it read, and
 * when another writer got in between, `apply` runs again on fresh reads. The isolation
 * level decides what counts as a conflict, as in etcd:
 *
 * - `serializable-snapshot` (default): every read sees the revision of the first read, and
 *   the commit fails if any key read or written changed since then;
 * - `serializable`: reads as above, the commit checks only the keys read;
 * - `repeatable-reads`: each key is read once (from the member, serializable), the commit
 *   checks the keys read;
 * - `read-committed`: no checks; the writes are applied as they are.
 */
import type {
  RangeResponse,
  RequestOp,
  TxnResponse,
} from "../../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { Compare } from "../../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { Client } from "../client.ts";
import { cmp, op, type PutOptions, type RangeOptions } from "../ops.ts";

/** etcd's STM isolation levels. */
export type Isolation =
  | "serializable-snapshot"
  | "serializable"
  | "repeatable-reads"
  | "read-committed";

/** STM options. */
export interface StmOptions {
  /** What counts as a conflict (default `serializable-snapshot`). */
  isolation?: Isolation;
  /** Keys read in one round trip before `apply` runs. */
  prefetch?: string[];
  /** Aborting stops retrying (the current round trip fails with Canceled). */
  signal?: AbortSignal;
}

/** What `apply` reads and writes through. */
export interface Stm {
  /** The value of the first of `keys` that exists ("" when none does), as of the STM's reads. */
  get(...keys: string[]): Promise<string>;
  /** Buffers a put, applied at commit. */
  put(key: string, value: string, opts?: PutOptions): void;
  /** Buffers a delete, applied at commit. */
  del(key: string): void;
  /** The key's modification revision as read (0 when it does not exist). */
  rev(key: string): Promise<bigint>;
}

const dec = new TextDecoder();

function valueOf(r: RangeResponse | undefined): string {
  return r && r.kvs.length > 0 ? dec.decode(r.kvs[0].value) : "";
}

class StmRun implements Stm {
  rset = new Map<string, RangeResponse>();
  wset = new Map<string, { value: string; op: RequestOp }>();
  prefetched = new Map<string, RangeResponse>();
  getOpts: RangeOptions = {};

  constructor(
    readonly client: Client,
    readonly isolation: Isolation,
    readonly signal: AbortSignal | undefined,
  ) {
    if (isolation === "repeatable-reads" || isolation === "read-committed") {
      this.getOpts = { serializable: true };
    }
  }

  get snapshot(): boolean {
    return this.isolation === "serializable-snapshot" || this.isolation === "serializable";
  }

  reset(): void {
    this.rset = new Map();
    this.wset = new Map();
  }

  async get(...keys: string[]): Promise<string> {
    if (keys.length === 0) return "";
    for (const k of keys) {
      const w = this.wset.get(k);
      if (w) return w.value;
    }
    const firstRead = this.rset.size === 0;
    if (this.snapshot) {
      for (const k of keys) {
        const p = this.prefetched.get(k);
        if (p) {
          this.prefetched.delete(k);
          this.rset.set(k, p);
        }
      }
    }
    const r = await this.fetch(keys);
    if (this.snapshot && firstRead && r) {
      // every later read sees the revision of the first
      this.getOpts = { revision: r.header!.revision, serializable: true };
    }
    return valueOf(r);
  }

  put(key: string, value: string, opts?: PutOptions): void {
    this.wset.set(key, { value, op: op.put(key, value, opts) });
  }

  del(key: string): void {
    this.wset.set(key, { value: "", op: op.delete(key) });
  }

  async rev(key: string): Promise<bigint> {
    if (this.snapshot) await this.get(key);
    const r = await this.fetch([key]);
    return r && r.kvs.length > 0 ? r.kvs[0].modRevision : 0n;
  }

  async fetch(keys: string[]): Promise<RangeResponse | undefined> {
    for (const k of keys) {
      const have = this.rset.get(k);
      if (have) return have;
    }
    const r = await this.client.txn()
      .then(...keys.map((k) => op.get(k, this.getOpts)))
      .commit({ signal: this.signal });
    this.addReads(keys, r);
    const first = r.responses[0]?.response;
    return first?.case === "responseRange" ? first.value : undefined;
  }

  addReads(keys: string[], r: TxnResponse): void {
    r.responses.forEach((resp, i) => {
      if (resp.response.case === "responseRange") this.rset.set(keys[i], resp.response.value);
    });
  }

  /** The comparisons that must still hold at commit. */
  conflicts(): Compare[] {
    if (this.isolation === "read-committed") return [];
    const reads: Compare[] = [];
    for (const [k, r] of this.rset) {
      reads.push(cmp.modRevision(k, "=", r.kvs.length > 0 ? r.kvs[0].modRevision : 0n));
    }
    if (this.isolation !== "serializable-snapshot") return reads;
    let first = 0x7ffffffffffffffen;
    for (const r of this.rset.values()) {
      const rev = r.header!.revision;
      if (rev < first) first = rev;
    }
    for (const k of this.wset.keys()) reads.push(cmp.modRevision(k, "<", first + 1n));
    return reads;
  }

  /** Commits the writes; undefined when a conflict means `apply` must run again. */
  async commit(): Promise<TxnResponse | undefined> {
    const puts = [...this.wset.values()].map((w) => w.op);
    if (!this.snapshot) {
      const r = await this.client.txn().if(...this.conflicts()).then(...puts).commit({
        signal: this.signal,
      });
      return r.succeeded ? r : undefined;
    }
    // the serializable levels refresh what they read in the same round trip
    const keys = [...this.rset.keys()];
    const r = await this.client.txn()
      .if(...this.conflicts())
      .then(...puts)
      .else(...keys.map((k) => op.get(k)))
      .commit({ signal: this.signal });
    if (r.succeeded) return r;
    this.addReads(keys, r);
    this.prefetched = this.rset;
    this.getOpts = {};
    return undefined;
  }
}

/**
 * Runs `apply` until its writes commit without conflict; returns the committing txn's
 * response. An error thrown by `apply` ends the STM with that error, nothing written.
 *
 * @example
 * ```ts
 * import { Client, runStm } from "../mod.ts";
 * const client = new Client({ endpoints: Deno.env.get("ETCDCTL_ENDPOINTS")?.split(",") ?? "127.0.0.1:2379" });
 * await client.put("accounts/a", "100");
 * await client.put("accounts/b", "0");
 * // move 10 from one account to another, atomically
 * await runStm(client, async (s) => {
 *   const a = Number(await s.get("accounts/a")), b = Number(await s.get("accounts/b"));
 *   if (a < 10) throw new Error("insufficient funds");
 *   s.put("accounts/a", String(a - 10));
 *   s.put("accounts/b", String(b + 10));
 * });
 * console.log(await client.getText("accounts/b")); // "10"
 * await client.close();
 * ```
 */
export async function runStm(
  client: Client,
  apply: (s: Stm) => Promise<void>,
  opts: StmOptions = {},
): Promise<TxnResponse> {
  const run = new StmRun(client, opts.isolation ?? "serializable-snapshot", opts.signal);
  const prefetch = opts.prefetch ?? [];
  for (;;) {
    opts.signal?.throwIfAborted();
    run.reset();
    if (prefetch.length > 0) await run.get(...prefetch);
    await apply(run);
    const r = await run.commit();
    if (r) return r;
  }
}
