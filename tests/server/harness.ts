/**
 * Test harness for the server: a member served in-process on 127.0.0.1 port 0 with a temp
 * data dir, and the real etcdctl (3.4) pointed at it.
 */
import { defaultConfig, type ServerConfig } from "../../lib/server/config.ts";
import { type ConcordServer, startServer } from "../../lib/api/member_server.ts";

/** What one etcdctl run printed. */
export interface CtlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs etcdctl (API v3) against `endpoint`, optionally feeding `stdin`. */
export async function etcdctl(
  endpoint: string,
  args: string[],
  stdin?: string,
): Promise<CtlResult> {
  const cmd = new Deno.Command("etcdctl", {
    args: ["--endpoints", endpoint, "--dial-timeout", "5s", "--command-timeout", "10s", ...args],
    env: { ETCDCTL_API: "3" },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const child = cmd.spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A server for one test, with its data dir and an etcdctl bound to it. */
export interface TestServer {
  server: ConcordServer;
  dir: string;
  url: string;
  /** etcdctl; throws with its output when it exits non-zero. */
  ok(args: string[], stdin?: string): Promise<string>;
  /** etcdctl expected to fail; returns stderr. */
  fails(args: string[], stdin?: string): Promise<string>;
  close(): Promise<void>;
}

/** A config for tests: 127.0.0.1 port 0 in `dir`, fast backend batches. */
export function testConfig(dir: string, edit?: (c: ServerConfig) => void): ServerConfig {
  const cfg = defaultConfig("t");
  cfg.dataDir = dir;
  cfg.listenClientUrls = [new URL("http://127.0.0.1:0")];
  cfg.backendBatchIntervalMs = 20;
  edit?.(cfg);
  return cfg;
}

/** Starts an in-process server in a fresh temp dir. */
export async function startTestServer(edit?: (c: ServerConfig) => void): Promise<TestServer> {
  const dir = await Deno.makeTempDir({ prefix: "concord-server-" });
  const server = await startServer(testConfig(dir, edit), { log: () => {} });
  await server.member.ready;
  const url = server.clientUrls[0];
  return {
    server,
    dir,
    url,
    async ok(args, stdin) {
      const r = await etcdctl(url, args, stdin);
      if (r.code !== 0) {
        throw new Error(`etcdctl ${args.join(" ")} exited ${r.code}: ${r.stdout}${r.stderr}`);
      }
      return r.stdout;
    },
    async fails(args, stdin) {
      const r = await etcdctl(url, args, stdin);
      if (r.code === 0) throw new Error(`etcdctl ${args.join(" ")} succeeded: ${r.stdout}`);
      return r.stderr;
    },
    async close() {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Polls `check` until it returns true, failing after `ms`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  ms = 10_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A `concord serve` child process, serving clients at `url`. */
export interface ServeChild {
  proc: Deno.ChildProcess;
  url: string;
  /** Everything the child writes to stderr, once it exits. */
  stderr: Promise<string>;
}

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/**
 * Runs `concord serve` with `args` (listening on 127.0.0.1 port 0 unless they say otherwise)
 * and resolves once it announces its client URL; its stdout keeps being drained so the child
 * never blocks on a full pipe. The caller stops it (SIGTERM or SIGKILL) and awaits `proc`.
 */
export async function spawnServe(args: string[]): Promise<ServeChild> {
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "serve", "--listen-client-urls", "http://127.0.0.1:0", ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // the log (JSON lines on stderr) says when it is ready, and where; keep reading it all
  const drainOut = new Response(proc.stdout).text();
  const reader = proc.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  let url: string | undefined;
  while (url === undefined) {
    const { value, done } = await reader.read();
    if (done) {
      await proc.status;
      throw new Error(`serve exited before it was ready: ${out}${await drainOut}`);
    }
    out += value;
    url = /"msg":"ready to serve client requests".*"client-urls":\["(http:\/\/127\.0\.0\.1:\d+)"/
      .exec(out)?.[1];
  }
  const stderr = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    await drainOut;
    return out;
  })();
  return { proc, url, stderr };
}
