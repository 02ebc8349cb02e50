/** A real etcd 3.4 for the load generator's tests, through the shared launcher. */
import { startEtcd as startEtcdProcess } from "../support/etcd.ts";

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
  const etcd = await startEtcdProcess();
  return { endpoint: etcd.url, stop: () => etcd.stop() };
}
