/**
 * Faults on a cluster of three `concord serve` processes: the leader killed with SIGKILL under
 * concurrent writers, the leader paused with SIGSTOP past the election timeout, a follower
 * that was down past the leader's log compaction catching up by snapshot, and a member whose
 * peer traffic is cut serving neither writes nor linearizable reads. Writers go through the
 * JSON gateway to every member in turn; every acknowledged write must survive.
 */
import assert from "node:assert/strict";
import { etcdctl, ProcessCluster } from "./processes.ts";
import { checkAcked, converged, leaderIndex, Writers } from "./writers.ts";
import { freePort } from "../support/etcd.ts";

Deno.test("faults: SIGKILL the leader under writers; every acknowledged write survives, revisions never go back", async () => {
  const c = await ProcessCluster.start("concord", 3);
  const writers = new Writers(c, 6, "w");
  try {
    await writers.more(200);
    const l = await leaderIndex(c);
    await c.signal(l, "SIGKILL");
    await writers.more(200); // the other two elect a leader and go on
    const l2 = await leaderIndex(c, l);
    assert.notEqual(l2, l);
    c.spawn(l); // the killed leader comes back as a follower
    await c.waitHealthy(l);
    await writers.more(100);
    await writers.stop();
    await converged(c);
    for (let i = 0; i < 3; i++) await checkAcked(c, i, writers.acked);
  } finally {
    await writers.stop();
    await c.stop();
  }
});

Deno.test("faults: SIGSTOP the leader past the election timeout; the others elect a leader, it rejoins as a follower", async () => {
  const c = await ProcessCluster.start("concord", 3);
  const writers = new Writers(c, 3, "w");
  try {
    await writers.more(50);
    const l = await leaderIndex(c);
    await c.signal(l, "SIGSTOP");
    const l2 = await leaderIndex(c, l);
    assert.notEqual(l2, l);
    await writers.more(100);
    await c.signal(l, "SIGCONT");
    await c.waitHealthy(l);
    await writers.more(50);
    await writers.stop();
    await converged(c);
    for (let i = 0; i < 3; i++) await checkAcked(c, i, writers.acked);
  } finally {
    await c.signal(0, "SIGCONT");
    await c.signal(1, "SIGCONT");
    await c.signal(2, "SIGCONT");
    await writers.stop();
    await c.stop();
  }
});

Deno.test("faults: a follower down past the leader's log compaction catches up by snapshot", async () => {
  // snapshots every 200 entries; the leader keeps 200 behind each (etcd's catch-up entries,
  // 5,000 by default, which took 5,600 writes here instead of 800)
  const c = await ProcessCluster.start("concord", 3, {
    flags: ["--snapshot-count=200", "--experimental-snapshot-catchup-entries=200"],
  });
  const writers = new Writers(c, 16, "w");
  try {
    const l = await leaderIndex(c);
    const f = (l + 1) % 3;
    await c.signal(f, "SIGKILL");
    await writers.more(800);
    await writers.stop();
    c.spawn(f);
    await c.waitHealthy(f);
    await converged(c);
    await checkAcked(c, f, writers.acked);
    await c.signal(f, "SIGTERM");
    const log = await c.members[f].logs.at(-1)!;
    assert.match(
      log,
      /"msg":"installed snapshot".*"snapshot-index":\d+/,
      "caught up from the log, not a snapshot",
    );
  } finally {
    await writers.stop();
    await c.stop();
  }
});

/** A TCP proxy in front of one member's peer port that can cut every connection. */
class PeerProxy {
  readonly port = freePort();
  #listener: Deno.Listener;
  #conns = new Set<Deno.Conn>();
  #cut = false;
  readonly #loop: Promise<void>;

  constructor(target: number) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: this.port });
    this.#listener = listener;
    this.#loop = (async () => {
      for await (const inbound of listener) {
        if (this.#cut) {
          inbound.close();
          continue;
        }
        Deno.connect({ hostname: "127.0.0.1", port: target }).then((outbound) => {
          this.#conns.add(inbound);
          this.#conns.add(outbound);
          const pipe = (a: Deno.Conn, b: Deno.Conn) =>
            a.readable.pipeTo(b.writable).catch(() => {}).finally(() => {
              for (const x of [a, b]) {
                this.#conns.delete(x);
                try {
                  x.close();
                } catch {
                  // closed
                }
              }
            });
          pipe(inbound, outbound);
          pipe(outbound, inbound);
        }, () => inbound.close());
      }
    })().catch(() => {});
  }

  /** Cuts every connection now and refuses new ones until healed. */
  cut(): void {
    this.#cut = true;
    for (const c of this.#conns) {
      try {
        c.close();
      } catch {
        // closed
      }
    }
    this.#conns.clear();
  }

  heal(): void {
    this.#cut = false;
  }

  async close(): Promise<void> {
    this.cut();
    this.#listener.close();
    await this.#loop;
  }
}

Deno.test("faults: a member whose peer traffic is cut serves no write and no linearizable read; it catches up when healed", async () => {
  // each member listens on its own port and is known to the others by its proxy's
  const peerPorts = [freePort(), freePort(), freePort()];
  const proxies = peerPorts.map((p) => new PeerProxy(p));
  let c: ProcessCluster | null = null;
  try {
    c = await ProcessCluster.start("concord", 3, {
      advertisePeers: proxies.map((p) => `http://127.0.0.1:${p.port}`),
      listenPeers: peerPorts.map((p) => `http://127.0.0.1:${p}`),
    });
    const l = await leaderIndex(c);
    const minority = (l + 1) % 3;
    const url = c.members[minority].clientUrl;
    // cut what reaches the minority member: it hears neither the leader nor the other
    proxies[minority].cut();
    // what it sends still reaches the leader, but no answer comes back
    // (both at once: each waits out its own 3 s)
    const [put, get] = await Promise.all([
      etcdctl(url, "put", "cut", "x", "--command-timeout=3s"),
      etcdctl(url, "get", "k", "--command-timeout=3s"),
    ]);
    assert.notEqual(put.code, 0, "a write through the cut member was acknowledged");
    assert.notEqual(get.code, 0, "a linearizable read was served by the cut member");
    // the majority goes on
    const other = c.members[(minority + 1) % 3].clientUrl;
    assert.equal((await etcdctl(other, "put", "k", "majority")).stdout, "OK\n");
    proxies[minority].heal();
    await c.waitHealthy(minority);
    assert.equal(
      (await etcdctl(url, "get", "k", "--print-value-only")).stdout,
      "majority\n",
    );
  } finally {
    await c?.stop();
    for (const p of proxies) await p.close();
  }
});
