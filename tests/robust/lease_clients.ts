/**
 * The lease client of a real-process run: through lib/client over gRPC it grants leases (with
 * ids it picks, so a grant whose answer is lost is still known), attaches 1-2 keys to each,
 * keeps some alive a while with lib/client's keep-alive loop (`lease.keepAlive`, over the
 * LeaseKeepAlive stream), then revokes the lease or lets it expire, and polls the keys with
 * linearizable gets until they are gone. What it records is tests/sim's `LeaseRecord`, for
 * tests/sim's `checkLeases`, plus when each key was last seen present and first seen absent:
 * real processes give no moment of deletion, only those bounds (`LeaseTimings`).
 *
 * Keys are `k/L<n>/<j>`, under the watchers' prefix (so lease deletions are watched too) and
 * apart from the KV clients' `k/00`..`k/NN`.
 */
import { Client } from "../../lib/client/mod.ts";
import { Rand } from "../../lib/base/rand.ts";
import type { LeaseRecord } from "../sim/lease_workload.ts";
import type { Recorder } from "./kv_clients.ts";

/** When a lease key was seen (ms of the run's clock). */
export interface KeySeen {
  /** The call time of the last linearizable get that found it (its put's call before). */
  presentCallMs: number;
  /** The return time of the first linearizable get that found it gone (null: never seen gone). */
  absentRetMs: number | null;
}

/** What the real process adds to a lease's record. */
export interface LeaseTimings {
  /** Per key (by name), when it was seen present and gone. */
  seen: Map<string, KeySeen>;
  /**
   * Per answered keep-alive, the latest moment its renewal can have taken effect (when its
   * answer arrived); `LeaseRecord.renewedAtMs` holds the earliest (when the loop could have
   * sent it: the answer before it arrived, or the loop started).
   */
  renewedByMs: number[];
  /** When the keep-alive loop was cancelled (a renewal in flight may still land). */
  cancelledMs: number | null;
}

export interface LeaseClientOptions {
  endpoints: string[];
  seed: number;
  /** A call's deadline. */
  timeoutMs: number;
  /** Pause between leases (ms, drawn up to it). */
  pauseMs: number;
}

/** Runs leases one after another until `stop`; each ends revoked or expired, keys gone. */
export class LeaseClients {
  readonly leases: LeaseRecord[] = [];
  readonly timings = new Map<bigint, LeaseTimings>();
  /** The longest an answered call took (its effect lies between its call and its answer). */
  longestAnsweredMs = 0;
  readonly #rec: Recorder;
  readonly #opts: LeaseClientOptions;
  readonly #client: Client;
  readonly #done: Promise<void>;
  #stop = false;

  constructor(rec: Recorder, opts: LeaseClientOptions) {
    this.#rec = rec;
    this.#opts = opts;
    this.#client = new Client({ endpoints: opts.endpoints, memberDownMs: 1000 });
    this.#done = this.#loop(new Rand(opts.seed * 17 + 5));
  }

  /** Stops granting; waits until the current lease's keys are gone (bounded). */
  async stop(): Promise<void> {
    if (this.#stop) return;
    this.#stop = true;
    await this.#done;
    await this.#client.close();
  }

  async #loop(r: Rand): Promise<void> {
    for (let n = 0; !this.#stop; n++) {
      await new Promise((res) => setTimeout(res, r.int(this.#opts.pauseMs)));
      if (this.#stop) break;
      await this.#lease(r, n);
    }
  }

  async #lease(r: Rand, n: number): Promise<void> {
    const client = this.#client;
    const opts = { timeoutMs: this.#opts.timeoutMs };
    const l: LeaseRecord = {
      id: 0x5157_0000n + BigInt(n + 1),
      ttlMs: 1000 * (1 + r.int(2)),
      grantCallMs: this.#rec.ms(),
      granted: false,
      keys: [],
      renewedAtMs: [],
      revokeCalled: false,
      revokeRev: null,
    };
    const t: LeaseTimings = { seen: new Map(), renewedByMs: [], cancelledMs: null };
    this.leases.push(l);
    this.timings.set(l.id, t);
    const timed = async <T>(f: () => Promise<T>): Promise<T> => {
      const at = this.#rec.ms();
      const v = await f();
      this.longestAnsweredMs = Math.max(this.longestAnsweredMs, this.#rec.ms() - at);
      return v;
    };
    try {
      const res = await timed(() => client.lease.grant(l.ttlMs / 1000, { ...opts, id: l.id }));
      l.granted = true;
      // the TTL granted (a member may raise a short one to its minimum)
      l.ttlMs = Math.max(l.ttlMs, Number(res.TTL) * 1000);
    } catch {
      // unknown: granted or not; no key is attached to it
      return;
    }
    for (let j = 0, keys = 1 + r.int(2); j < keys; j++) {
      const k = { key: `k/L${n}/${j}`, value: `l${n}.${j}`, rev: null as number | null };
      l.keys.push(k);
      t.seen.set(k.key, { presentCallMs: this.#rec.ms(), absentRetMs: null });
      try {
        const res = await timed(() => client.put(k.key, k.value, { ...opts, lease: l.id }));
        k.rev = Number(res.header?.revision);
      } catch {
        // unknown, or refused (the lease expired meanwhile)
      }
    }
    if (r.chance(0.6)) {
      // renewals through lib/client's loop; it renews every TTL/3
      let sentAfter = this.#rec.ms();
      const ka = client.lease.keepAlive(l.id, {
        onRenew: (res) => {
          const now = this.#rec.ms();
          if (res.TTL > 0n) {
            l.renewedAtMs.push(sentAfter);
            t.renewedByMs.push(now);
            this.longestAnsweredMs = Math.max(this.longestAnsweredMs, now - sentAfter);
          }
          sentAfter = now;
        },
      });
      await Promise.race([
        new Promise((res) => setTimeout(res, 500 + r.int(3000))),
        ka.done.catch(() => {}),
      ]);
      ka.cancel();
      t.cancelledMs = this.#rec.ms();
      await ka.done.catch(() => {});
    }
    if (r.chance(0.5)) {
      l.revokeCalled = true;
      try {
        const res = await timed(() => client.lease.revoke(l.id, opts));
        l.revokeRev = Number(res.header?.revision);
      } catch {
        // unknown (or the lease had expired: "requested lease not found")
      }
    }
    await this.#untilGone(l, t);
  }

  /** Polls the lease's keys until each is gone (a key that outlives 60 s is left to the check). */
  async #untilGone(l: LeaseRecord, t: LeaseTimings): Promise<void> {
    const deadline = Date.now() + l.ttlMs + 60_000;
    for (const k of l.keys) {
      const seen = t.seen.get(k.key)!;
      while (Date.now() < deadline) {
        const call = this.#rec.ms();
        try {
          const kv = await this.#client.get(k.key, { timeoutMs: this.#opts.timeoutMs });
          if (kv === undefined) {
            seen.absentRetMs = this.#rec.ms();
            break;
          }
          seen.presentCallMs = call;
        } catch {
          // no answer: try again
        }
        await new Promise((res) => setTimeout(res, 100));
      }
    }
  }
}
