/** Runs a real etcd 3.4 (Debian's /usr/bin/etcd) for the load generator's tests. */

const ETCD = "/usr/bin/etcd";

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Runs etcdctl (v3 API) against `endpoint`. */
export async function etcdctl(endpoint: string, args: string[]): Promise<Deno.CommandOutput> {
  return await new Deno.Command("etcdctl", {
    args: [`--endpoints=${endpoint}`, "--command-timeout=2s", ...args],
    env: { ETCDCTL_API: "3" },
    stdout: "piped",
    stderr: "piped",
  }).output();
}

/** Starts a single-member etcd on free ports in a temp dir; `stop()` kills it and removes it. */
export async function startEtcd(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "loadgen-etcd-" });
  const client = `http://127.0.0.1:${freePort()}`;
  const peer = `http://127.0.0.1:${freePort()}`;
  const proc = new Deno.Command(ETCD, {
    args: [
      `--data-dir=${dir}/data`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=default=${peer}`,
      "--log-level=error",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const stop = async () => {
    proc.kill("SIGTERM");
    await proc.status;
    await Deno.remove(dir, { recursive: true });
  };
  const deadline = Date.now() + 20_000;
  while (!(await etcdctl(client, ["get", "probe"])).success) {
    if (Date.now() > deadline) {
      await stop();
      throw new Error("etcd did not answer within 20 s");
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { endpoint: client, stop };
}
