/**
 * The servers bench/compare.ts measures: one member, or a cluster of N members of the same
 * server, all started with etcd's flags on free loopback ports (the same flags for Concord and
 * for Debian's etcd 3.4, as tests/cluster/processes.ts starts them), with what the comparison
 * reads from each member process: its CPU seconds and peak RSS from /proc, and whether it leads.
 */

/** Which server a bench cluster runs. */
export type ServerKind = "concord" | "etcd";

/** One member's name and addresses. */
export interface MemberAddrs {
  name: string;
  clientUrl: string;
  peerUrl: string;
}

/**
 * Names and loopback URLs for `n` members. A lone member is named `default` with no cluster
 * token, as `etcd` starts with no flags (and as bench:compare always ran it); members of a
 * cluster are m1..mN.
 */
export function memberAddrs(n: number, port: () => number): MemberAddrs[] {
  if (!Number.isInteger(n) || n < 1) throw new RangeError("members must be an integer >= 1");
  return Array.from({ length: n }, (_, i) => ({
    name: n === 1 ? "default" : `m${i + 1}`,
    clientUrl: `http://127.0.0.1:${port()}`,
    peerUrl: `http://127.0.0.1:${port()}`,
  }));
}

/** etcd's flags for member `i` of `members`; identical for both servers. */
export function memberArgs(members: MemberAddrs[], i: number, dataDir: string): string[] {
  const m = members[i];
  const args = [
    `--name=${m.name}`,
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${m.clientUrl}`,
    `--advertise-client-urls=${m.clientUrl}`,
    `--listen-peer-urls=${m.peerUrl}`,
    `--initial-advertise-peer-urls=${m.peerUrl}`,
    `--initial-cluster=${members.map((x) => `${x.name}=${x.peerUrl}`).join(",")}`,
  ];
  if (members.length > 1) {
    args.push("--initial-cluster-token=bench-cluster", "--initial-cluster-state=new");
  }
  return args;
}

/** A free TCP port on 127.0.0.1 (closed again; the server binds it a moment later). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** CPU seconds (user + system) a live process has used, from /proc/<pid>/stat. */
export function procCpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime in clock ticks (USER_HZ = 100)
}

/** Peak resident set size (VmHWM) in KiB, or NaN once the process is gone. */
export function peakRssKiB(pid: number): number {
  let status: string;
  try {
    status = Deno.readTextFileSync(`/proc/${pid}/status`);
  } catch {
    return NaN; // exited: no figure rather than a made-up one
  }
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) : NaN;
}

/** Runs etcdctl (API v3) against `endpoints` (comma-separated). */
export async function etcdctl(endpoints: string, args: string[]): Promise<Deno.CommandOutput> {
  return await new Deno.Command("etcdctl", {
    args: [`--endpoints=${endpoints}`, "--command-timeout=2s", ...args],
    env: { ETCDCTL_API: "3" },
    stdout: "piped",
    stderr: "piped",
  }).output();
}

/** One running member. */
export interface BenchMember extends MemberAddrs {
  proc: Deno.ChildProcess;
  logPath: string;
}

/** A running server under test: one member or a cluster of them. */
export class BenchCluster {
  readonly name: ServerKind;
  readonly members: BenchMember[];
  readonly dir: string;

  private constructor(name: ServerKind, dir: string, members: BenchMember[]) {
    this.name = name;
    this.dir = dir;
    this.members = members;
  }

  /**
   * Spawns `n` members at once (`cmd pre… <etcd flags> extra(i)…`), their stderr to files in
   * `logDir`. Returns the cluster even if it did not come up, with the reason in `error`, so
   * the caller can stop it and read its logs.
   */
  static async start(
    name: ServerKind,
    n: number,
    cmd: string,
    pre: string[],
    logDir: string,
    cwd: string,
    extra: (i: number) => string[] = () => [],
    env: Record<string, string> = {},
  ): Promise<{ cluster: BenchCluster; error?: string }> {
    const dir = await Deno.makeTempDir({ prefix: `concord-compare-${name}-` });
    const addrs = memberAddrs(n, freePort);
    const members: BenchMember[] = [];
    for (let i = 0; i < n; i++) {
      const logPath = `${logDir}/${name}-${addrs[i].name}.log`;
      const log = await Deno.open(logPath, { write: true, create: true, truncate: true });
      const proc = new Deno.Command(cmd, {
        args: [...pre, ...memberArgs(addrs, i, `${dir}/${addrs[i].name}`), ...extra(i)],
        cwd,
        env,
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      // A member's stderr goes to its log file, read only when it fails to start.
      void proc.stderr.pipeTo(log.writable).catch(() => undefined);
      members.push({ ...addrs[i], proc, logPath });
    }
    const cluster = new BenchCluster(name, dir, members);
    const errors = await Promise.all(
      members.map((m) => waitReady(m, name === "etcd" ? 20_000 : 30_000)),
    );
    const bad = errors.findIndex((e) => e !== undefined);
    if (bad < 0) return { cluster };
    const log = (await Deno.readTextFile(members[bad].logPath).catch(() => "")).trim()
      .split("\n").slice(-2).join(" | ");
    return {
      cluster,
      error: `${name} ${members[bad].name}: ${errors[bad]}${log ? `: ${log}` : ""}`,
    };
  }

  /** Every client URL, comma-separated, for --endpoints. */
  get endpoints(): string {
    return this.members.map((m) => m.clientUrl).join(",");
  }

  /** CPU seconds of each member so far. */
  cpuSeconds(): number[] {
    return this.members.map((m) => procCpuSeconds(m.proc.pid));
  }

  /** Peak RSS (KiB) of each member so far. */
  peakRss(): number[] {
    return this.members.map((m) => peakRssKiB(m.proc.pid));
  }

  /**
   * Index of the member that leads now (from `etcdctl endpoint status -w json`: the member
   * whose own id is the leader id it reports), or -1 if they do not agree on one.
   */
  async leader(): Promise<number> {
    const out = await etcdctl(this.endpoints, ["endpoint", "status", "-w", "json"]);
    if (!out.success) return -1;
    // The ids are 64-bit and etcdctl prints them as JSON numbers: read them as text.
    const text = new TextDecoder().decode(out.stdout);
    const re = /"Endpoint":"([^"]+)".*?"member_id":(\d+).*?"leader":(\d+)/g;
    for (const [, endpoint, id, leader] of text.matchAll(re)) {
      if (id === leader) return this.members.findIndex((m) => m.clientUrl === endpoint);
    }
    return -1;
  }

  /** Stops every member (SIGTERM, SIGKILL after 10 s) and removes the data dirs. */
  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => stopProcess(m.proc)));
    await Deno.remove(this.dir, { recursive: true }).catch(() => undefined);
  }
}

/** Waits until the member answers a serializable Range (via etcdctl), exits, or `ms` pass. */
async function waitReady(m: BenchMember, ms: number): Promise<string | undefined> {
  let exited: Deno.CommandStatus | undefined;
  m.proc.status.then((st) => (exited = st));
  const deadline = Date.now() + ms;
  let last = "";
  while (Date.now() < deadline) {
    if (exited) return `exited with code ${exited.code}`;
    const out = await etcdctl(m.clientUrl, ["get", "probe"]);
    if (out.success) return undefined;
    last = new TextDecoder().decode(out.stderr).trim().split("\n").pop() ?? "";
    await new Promise((r) => setTimeout(r, 200));
  }
  return `no answer within ${ms} ms (${last})`;
}

/**
 * Sends `signal` to a server and waits for it to exit, killing it (SIGKILL) if it has not
 * after `killAfterMs`: a bench never leaves a server behind.
 */
export async function stopProcess(
  p: Deno.ChildProcess,
  signal: Deno.Signal = "SIGTERM",
  killAfterMs = 10_000,
): Promise<void> {
  try {
    p.kill(signal);
  } catch {
    // already gone
  }
  const timer = setTimeout(() => {
    try {
      p.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, killAfterMs);
  await p.status;
  clearTimeout(timer);
}

/**
 * The `--v8-flags=…` argument of deno.json's `start` task (this checkout's, or `root`'s), if
 * it has one: benchmarks run Concord as `deno task start` runs it, so they cannot drift from
 * what users run.
 */
export function startTaskV8Flags(root?: string): string[] {
  const flag = startTask(root).split(/\s+/).find((a) => a.startsWith("--v8-flags="));
  return flag ? [flag] : [];
}

/**
 * The `NAME=value` words that open deno.json's `start` task (the environment it runs the
 * member with, such as MALLOC_ARENA_MAX), for the same reason as startTaskV8Flags.
 */
export function startTaskEnv(root?: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const word of startTask(root).trim().split(/\s+/)) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(\S*)$/.exec(word);
    if (!m) break;
    env[m[1]] = m[2];
  }
  return env;
}

/** deno.json's `start` task, of this checkout or of the one at `root`. */
function startTask(root?: string): string {
  const file = root === undefined ? new URL("../deno.json", import.meta.url) : `${root}/deno.json`;
  const cfg = JSON.parse(Deno.readTextFileSync(file)) as {
    tasks?: Record<string, string>;
  };
  return cfg.tasks?.start ?? "";
}
