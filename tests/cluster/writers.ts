/**
 * Writers for cluster tests with real processes: unique keys put through every member in turn
 * (the JSON gateway), each acknowledgement recorded with its revision, and the checks that
 * every acknowledged write is on a member and that the running members converged.
 */
import assert from "node:assert/strict";
import { b64, gateway, type ProcessCluster } from "./processes.ts";

export interface Ack {
  key: string;
  value: string;
  rev: number;
}

/** Writers that put unique keys through every member in turn until stopped. */
export class Writers {
  readonly acked: Ack[] = [];
  readonly failures: string[] = [];
  #stop = false;
  readonly #done: Promise<void>[] = [];

  constructor(c: ProcessCluster, n: number, prefix: string) {
    for (let w = 0; w < n; w++) {
      this.#done.push((async () => {
        let lastRev = 0;
        for (let i = 0; !this.#stop; i++) {
          const m = c.members[(w + i) % c.members.length];
          if (m.proc === null || m.paused) continue;
          const key = `${prefix}/${w}/${i}`;
          const ac = new AbortController();
          const timer = setTimeout(() => ac.abort(), 3000);
          try {
            const r = await gateway(
              m.clientUrl,
              "/v3/kv/put",
              { key: b64(key), value: b64(String(i)) },
              ac.signal,
            );
            const rev = Number((r.header as { revision: string }).revision);
            assert.ok(rev > lastRev, `writer ${w}: revision went back from ${lastRev} to ${rev}`);
            lastRev = rev;
            this.acked.push({ key, value: String(i), rev });
          } catch (err) {
            if (err instanceof assert.AssertionError) throw err;
            this.failures.push(String(err));
            await new Promise((r) => setTimeout(r, 20));
          } finally {
            clearTimeout(timer);
          }
        }
      })());
    }
  }

  /**
   * Waits until `n` more writes are acknowledged (120 s at most: a bound for a stuck cluster,
   * not a rate; on a loaded 2-core machine 5,600 writes took more than 30 s).
   */
  async more(n: number): Promise<void> {
    const want = this.acked.length + n;
    const deadline = Date.now() + 120_000;
    while (this.acked.length < want) {
      assert.ok(Date.now() < deadline, `only ${this.acked.length}/${want} writes acknowledged`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await Promise.all(this.#done);
  }
}

/** The index of the member every running member names as leader (15 s at most). */
export async function leaderIndex(c: ProcessCluster, exclude = -1): Promise<number> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    for (let i = 0; i < c.members.length; i++) {
      if (i === exclude || c.members[i].proc === null) continue;
      try {
        const s = await gateway(c.members[i].clientUrl, "/v3/maintenance/status", {});
        const header = s.header as { member_id: string };
        if (s.leader !== undefined && s.leader === header.member_id) return i;
      } catch {
        // down or without a leader yet
      }
    }
    assert.ok(Date.now() < deadline, "no leader");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every acknowledged write is on member i with its value and revision. */
export async function checkAcked(c: ProcessCluster, i: number, acked: Ack[]): Promise<void> {
  const url = c.members[i].clientUrl;
  const r = await gateway(url, "/v3/kv/range", { key: b64("w"), range_end: b64("x") });
  const kvs = new Map<string, { value: string; rev: number }>();
  for (const kv of (r.kvs ?? []) as { key: string; value: string; mod_revision: string }[]) {
    kvs.set(atob(kv.key), { value: atob(kv.value), rev: Number(kv.mod_revision) });
  }
  for (const a of acked) {
    const got = kvs.get(a.key);
    assert.ok(got, `acknowledged ${a.key}@${a.rev} is missing on ${c.members[i].name}`);
    assert.equal(got.value, a.value);
    assert.equal(got.rev, a.rev, `${a.key} revision`);
  }
}

/** The hashKV of every running member, once they applied the same revision. */
export async function converged(c: ProcessCluster): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const hs: string[] = [];
    for (const m of c.members) {
      if (m.proc === null) continue;
      const h = await gateway(m.clientUrl, "/v3/maintenance/hash", {}).catch(() => null);
      const s = await gateway(m.clientUrl, "/v3/maintenance/status", {}).catch(() => null);
      hs.push(`${(s?.header as { revision?: string })?.revision}:${h?.hash}`);
    }
    if (new Set(hs).size === 1 && !hs[0].includes("undefined")) return;
    assert.ok(Date.now() < deadline, `members never converged: ${hs.join(" ")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
