/**
 * A real three-member etcd 3.4 cluster on loopback ports, for the client's failover tests
 * (Concord's own clusters are not there yet; the same tests will run on them). Fast raft
 * timing (50 ms heartbeat, 500 ms election) keeps the failover seconds short.
 */
import { freePort } from "../support/etcd.ts";
import { ProcessCluster } from "../cluster/processes.ts";

/** A running cluster. */
export interface EtcdCluster {
  /** Each member's client URL, by member index. */
  readonly urls: string[];
  /** Sends `signal` to member `i` (SIGKILL, SIGSTOP, SIGCONT). */
  signal(i: number, signal: Deno.Signal): void;
  /** Continues stopped members, kills every member, removes the data dirs. */
  stop(): Promise<void>;
}

/**
 * The same shape over three `concord serve` processes with the same fast raft timing, so the
 * failover tests run on Concord's clusters too.
 */
export async function startConcordCluster(n = 3): Promise<EtcdCluster> {
  const c = await ProcessCluster.start("concord", n, {
    flags: ["--heartbeat-interval=50", "--election-timeout=500"],
  });
  return {
    urls: c.members.map((m) => m.clientUrl),
    signal: (i, sig) => {
      c.signal(i, sig).catch(() => {});
    },
    stop: () => c.stop(),
  };
}

/** Starts the cluster and waits (20 s at most) until every member reports healthy. */
export async function startEtcdCluster(n = 3): Promise<EtcdCluster> {
  const dir = await Deno.makeTempDir({ prefix: "concord-etcd-cluster-" });
  const names = Array.from({ length: n }, (_, i) => `m${i}`);
  const urls = names.map(() => `http://127.0.0.1:${freePort()}`);
  const peers = names.map(() => `http://127.0.0.1:${freePort()}`);
  const initial = names.map((name, i) => `${name}=${peers[i]}`).join(",");
  const procs: Deno.ChildProcess[] = [];
  const stop = async () => {
    for (const p of procs) {
      try {
        p.kill("SIGCONT");
        p.kill("SIGKILL");
      } catch {
        // already exited
      }
    }
    await Promise.all(procs.map((p) => p.status));
    await Deno.remove(dir, { recursive: true });
  };
  try {
    for (let i = 0; i < n; i++) {
      procs.push(
        new Deno.Command("etcd", {
          args: [
            `--name=${names[i]}`,
            `--data-dir=${dir}/${names[i]}`,
            `--listen-client-urls=${urls[i]}`,
            `--advertise-client-urls=${urls[i]}`,
            `--listen-peer-urls=${peers[i]}`,
            `--initial-advertise-peer-urls=${peers[i]}`,
            `--initial-cluster=${initial}`,
            "--initial-cluster-state=new",
            "--initial-cluster-token=client-failover",
            "--heartbeat-interval=50",
            "--election-timeout=500",
            "--logger=zap",
            "--log-level=error",
          ],
          stdout: "null",
          stderr: "null",
        }).spawn(),
      );
    }
    const deadline = Date.now() + 20_000;
    for (const url of urls) {
      for (;;) {
        try {
          const r = await fetch(`${url}/health`);
          if (r.status === 200 && (await r.text()).includes("true")) break;
          await r.body?.cancel();
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) throw new Error("the etcd cluster did not become healthy");
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    urls,
    signal(i, signal) {
      procs[i].kill(signal);
    },
    stop,
  };
}
