/**
 * Clusters of real processes for tests: N `concord serve` children, or N Debian `etcd` 3.4
 * children as the reference, started with the same etcd flags on free loopback ports. A
 * member may listen for peers behind a proxy (its advertised peer URL is the proxy's), so a
 * test can cut its peer traffic.
 */
import { freePort } from "../support/etcd.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** Which server the cluster runs. */
export type ServerKind = "concord" | "etcd";

/** One member's process and addresses. */
export interface ProcessMember {
  name: string;
  clientUrl: string;
  /** The peer URL the member listens on. */
  peerListen: string;
  /** The peer URL the cluster knows it by (a proxy's, when proxied). */
  peerAdvertise: string;
  proc: Deno.ChildProcess | null;
  /** True between SIGSTOP and SIGCONT. */
  paused: boolean;
  /** What it wrote to stderr, per incarnation, once it exited. */
  logs: Promise<string>[];
}

export interface ProcessClusterOptions {
  /** Extra flags for every member. */
  flags?: string[];
  /** Advertise these peer URLs instead of the listened ones (index = member). */
  advertisePeers?: string[];
  /** Listen for peers on these URLs (index = member; default a free port each). */
  listenPeers?: string[];
  /**
   * Runs before any member starts, with the cluster's addresses known (e.g. to restore a
   * snapshot into each member's data dir, `${dir}/${name}`).
   */
  prepare?: (c: ProcessCluster) => Promise<void>;
  /**
   * Extra environment of member i's `incarnation`-th start by `spawn` (0: the first), e.g.
   * CONCORD_FAILPOINTS for one incarnation.
   */
  env?: (i: number, incarnation: number) => Record<string, string> | undefined;
  /** Called when a process `spawn` started exits, however it ended, with its stderr. */
  onExit?: (i: number, proc: Deno.ChildProcess, stderr: Promise<string>) => void;
}

/** A running cluster of processes. */
export class ProcessCluster {
  readonly kind: ServerKind;
  readonly members: ProcessMember[];
  readonly dir: string;
  readonly #flags: string[];
  readonly #opts: ProcessClusterOptions;
  /** The --initial-cluster value every member starts with. */
  readonly initialCluster: string;

  private constructor(kind: ServerKind, dir: string, n: number, opts: ProcessClusterOptions) {
    this.kind = kind;
    this.dir = dir;
    this.#flags = opts.flags ?? [];
    this.#opts = opts;
    this.members = Array.from({ length: n }, (_, i) => {
      const peerListen = opts.listenPeers?.[i] ?? `http://127.0.0.1:${freePort()}`;
      return {
        name: `m${i + 1}`,
        clientUrl: `http://127.0.0.1:${freePort()}`,
        peerListen,
        peerAdvertise: opts.advertisePeers?.[i] ?? peerListen,
        proc: null,
        paused: false,
        logs: [],
      };
    });
    this.initialCluster = this.members.map((m) => `${m.name}=${m.peerAdvertise}`).join(",");
  }

  /** Starts every member at once and waits until each answers /health with true. */
  static async start(
    kind: ServerKind,
    n: number,
    opts: ProcessClusterOptions = {},
  ): Promise<ProcessCluster> {
    const dir = await Deno.makeTempDir({ prefix: `cluster-${kind}-` });
    const c = new ProcessCluster(kind, dir, n, opts);
    try {
      await opts.prepare?.(c);
      for (let i = 0; i < n; i++) c.spawn(i);
      await Promise.all(c.members.map((_, i) => c.waitHealthy(i)));
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  /** The etcd flags of member i (the same for both servers). */
  args(i: number): string[] {
    const m = this.members[i];
    return [
      `--name=${m.name}`,
      `--data-dir=${this.dir}/${m.name}`,
      `--listen-client-urls=${m.clientUrl}`,
      `--advertise-client-urls=${m.clientUrl}`,
      `--listen-peer-urls=${m.peerListen}`,
      `--initial-advertise-peer-urls=${m.peerAdvertise}`,
      `--initial-cluster=${this.initialCluster}`,
      `--initial-cluster-token=test-cluster`,
      `--initial-cluster-state=new`,
      ...(this.kind === "etcd" ? ["--logger=zap", "--log-level=error"] : []),
      ...this.#flags,
    ];
  }

  /** Starts (or restarts) member i's process, with `extra` flags after the usual ones. */
  spawn(i: number, extra: string[] = []): void {
    const m = this.members[i];
    const args = [...this.args(i), ...extra];
    const env = this.#opts.env?.(i, m.logs.length);
    const cmd = this.kind === "concord"
      ? new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MAIN, "serve", ...args],
        env,
        stdout: "null",
        stderr: "piped",
      })
      : new Deno.Command("etcd", { args, env, stdout: "null", stderr: "piped" });
    let proc: Deno.ChildProcess;
    try {
      proc = cmd.spawn();
    } catch (err) {
      throw new Error(`cannot run ${this.kind} (apt-get install etcd-server): ${err}`);
    }
    m.proc = proc;
    const stderr = new Response(proc.stderr).text();
    m.logs.push(stderr);
    const onExit = this.#opts.onExit;
    if (onExit !== undefined) proc.status.then(() => onExit(i, proc, stderr));
  }

  /**
   * Starts a new member process with the ETCD_* lines `member add` printed (name, initial
   * cluster, state "existing"), listening for peers on `peerUrl`; returns its index. Its data
   * dir is `dataDir` (default `${dir}/${name}`), e.g. the wiped dir of the member it replaces.
   */
  join(printed: string, peerUrl: string, dataDir?: string): number {
    const env: Record<string, string> = {};
    for (const m of printed.matchAll(/^(ETCD_[A-Z_]+)="([^"]*)"$/gm)) env[m[1]] = m[2];
    if (env.ETCD_INITIAL_CLUSTER_STATE !== "existing" || env.ETCD_NAME === undefined) {
      throw new Error(`member add printed no ETCD_* lines for an existing cluster:\n${printed}`);
    }
    const name = env.ETCD_NAME;
    const clientUrl = `http://127.0.0.1:${freePort()}`;
    const args = [
      `--data-dir=${dataDir ?? `${this.dir}/${name}`}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
    ];
    const cmd = this.kind === "concord"
      ? new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MAIN, "serve", ...args],
        env,
        stdout: "null",
        stderr: "piped",
      })
      : new Deno.Command("etcd", {
        args: [...args, "--logger=zap", "--log-level=error"],
        env,
        stdout: "null",
        stderr: "piped",
      });
    const proc = cmd.spawn();
    this.members.push({
      name,
      clientUrl,
      peerListen: peerUrl,
      peerAdvertise: peerUrl,
      proc,
      paused: false,
      logs: [new Response(proc.stderr).text()],
    });
    return this.members.length - 1;
  }

  /** Signals member i; for SIGKILL/SIGTERM waits for it to exit. */
  async signal(i: number, sig: Deno.Signal): Promise<void> {
    const m = this.members[i];
    if (m.proc === null) return;
    try {
      m.proc.kill(sig);
    } catch {
      // already exited
    }
    if (sig === "SIGSTOP") m.paused = true;
    if (sig === "SIGCONT") m.paused = false;
    if (sig === "SIGKILL" || sig === "SIGTERM") {
      m.paused = false;
      await m.proc.status;
      m.proc = null;
    }
  }

  /** Polls member i's /health until it says true (30 s at most). */
  async waitHealthy(i: number, timeoutMs = 30_000): Promise<void> {
    const m = this.members[i];
    const deadline = Date.now() + timeoutMs;
    let last = "";
    for (;;) {
      try {
        const r = await fetch(`${m.clientUrl}/health`);
        last = await r.text();
        if (r.status === 200 && JSON.parse(last).health === "true") return;
      } catch (err) {
        last = String(err);
      }
      if (m.proc === null) throw new Error(`${m.name} is not running`);
      if (Date.now() > deadline) {
        throw new Error(`${this.kind} ${m.name} not healthy in ${timeoutMs} ms: ${last}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Every client URL, comma-separated, for --endpoints. */
  get endpoints(): string {
    return this.members.map((m) => m.clientUrl).join(",");
  }

  /** Stops every member and removes the data dirs. */
  async stop(): Promise<void> {
    for (let i = 0; i < this.members.length; i++) {
      const p = this.members[i].proc;
      if (p !== null && this.members[i]) {
        try {
          p.kill("SIGCONT");
        } catch {
          // exited
        }
      }
      await this.signal(i, "SIGKILL");
    }
    await Promise.all(this.members.flatMap((m) => m.logs));
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** Runs etcdctl 3.4 (API v3) and returns its output; never throws on a non-zero exit. */
export async function etcdctl(
  endpoints: string,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command("etcdctl", {
    args: [`--endpoints=${endpoints}`, "--command-timeout=10s", ...args],
    env: { ETCDCTL_API: "3" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A JSON gateway call; throws on a transport failure or a non-200 answer. */
export async function gateway(
  url: string,
  path: string,
  body: unknown,
  signal?: AbortSignal,
): Promise<Record<string, unknown>> {
  const r = await fetch(`${url}${path}`, {
    method: "POST",
    body: JSON.stringify(body),
    signal,
  });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`${path} -> ${r.status} ${text}`);
  return JSON.parse(text);
}

/** base64 of a string, as the gateway wants keys and values. */
export function b64(s: string): string {
  return btoa(s);
}

/**
 * Runs etcdctl until it succeeds, for at most `timeoutMs` (an election, a peer connecting, or
 * etcd's strict reconfig check waiting for a settled peer may take a moment); returns its
 * output, or throws with etcdctl's last line (its retry lines before it are noise).
 */
export async function etcdctlSettled(
  endpoints: string,
  args: string[],
  timeoutMs = 30_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await etcdctl(endpoints, ...args);
    if (r.code === 0) return r.stdout;
    if (Date.now() > deadline) {
      const why = r.stderr.trim().split("\n").pop();
      throw new Error(`etcdctl ${args.join(" ")} kept failing: ${why}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
