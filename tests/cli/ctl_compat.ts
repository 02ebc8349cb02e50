/**
 * The comparison the ctl tests share: the same script of commands is run with the real
 * etcdctl 3.4 against one server and with `concord ctl` (in-process, output captured)
 * against its twin — a second server of the same kind, started the same way, so both see the
 * same history and answer with the same revisions. Twins are made of etcd 3.4 and of
 * Concord. Outputs, errors and exit codes must match byte for byte once ids (cluster,
 * member, lease), durations and sizes are replaced by placeholders.
 */
import assert from "node:assert/strict";
import { runCtl } from "../../lib/cli/ctl.ts";
import { StdinReader } from "../../lib/cli/ctl_stdin.ts";
import { type CtlResult, etcdctl, startTestServer, type TestServer } from "../server/harness.ts";
import { type EtcdProcess, freePort, startEtcd } from "../support/etcd.ts";
import type { ServerConfig } from "../../lib/server/config.ts";

export type { CtlResult };

/** A server either tool is pointed at. */
export interface Server {
  url: string;
  stop(): Promise<void>;
}

/** Two servers of one kind: etcdctl runs on `a`, concord ctl on `b`. */
export interface Twins {
  kind: "etcd" | "concord";
  a: Server;
  b: Server;
  stop(): Promise<void>;
}

function fromEtcd(e: EtcdProcess): Server {
  return { url: e.url, stop: () => e.stop() };
}

function fromConcord(s: TestServer): Server {
  return { url: s.url, stop: () => s.close() };
}

/** Starts twin etcd 3.4 members. */
export async function etcdTwins(): Promise<Twins> {
  const [a, b] = await Promise.all([startEtcd(), startEtcd()]);
  return {
    kind: "etcd",
    a: fromEtcd(a),
    b: fromEtcd(b),
    stop: async () => {
      await Promise.all([a.stop(), b.stop()]);
    },
  };
}

/** Starts twin Concord members (in-process, fast raft so 1 s leases hold). */
export async function concordTwins(): Promise<Twins> {
  // each advertises the URL it listens on, as the etcd twins do (endpoint --cluster uses it)
  const edit = (c: ServerConfig) => {
    c.heartbeatIntervalMs = 10;
    c.electionTimeoutMs = 100;
    const url = new URL(`http://127.0.0.1:${freePort()}`);
    c.listenClientUrls = [url];
    c.advertiseClientUrls = [url];
  };
  const a = await startTestServer(edit);
  const b = await startTestServer(edit);
  return {
    kind: "concord",
    a: fromConcord(a),
    b: fromConcord(b),
    stop: async () => {
      await a.close();
      await b.close();
    },
  };
}

/** Options of one run: stdin text, extra environment. */
export interface RunOptions {
  stdin?: string;
  env?: Record<string, string>;
}

const GLOBALS = (
  url: string,
) => ["--endpoints", url, "--dial-timeout", "5s", "--command-timeout", "10s"];

/** Runs the real etcdctl (API v3). */
export async function runEtcdctl(
  url: string,
  args: string[],
  o: RunOptions = {},
): Promise<CtlResult> {
  if (!o.env) return await etcdctl(url, args, o.stdin);
  const child = new Deno.Command("etcdctl", {
    args: [...GLOBALS(url), ...args],
    env: { ETCDCTL_API: "3", ...o.env },
    stdin: o.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (o.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(o.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A readable stream of `text` (ctl's stdin in-process). */
export function textStream(text: string): ReadableStream<Uint8Array> {
  const b = new TextEncoder().encode(text);
  return new ReadableStream({
    start(c) {
      if (b.length > 0) c.enqueue(b);
      c.close();
    },
  });
}

/** Runs `concord ctl` in-process with captured output. */
export async function runConcordCtl(
  url: string,
  args: string[],
  o: RunOptions & {
    interrupt?: AbortSignal;
    stdinStream?: ReadableStream<Uint8Array>;
    /** Sees stdout as it is written (for long-running commands). */
    onOut?: (text: string) => void;
  } = {},
): Promise<CtlResult> {
  let stdout = "";
  let stderr = "";
  const stdin = new StdinReader(
    o.stdinStream ?? (o.stdin === undefined ? null : textStream(o.stdin)),
  );
  const code = await runCtl([...GLOBALS(url), ...args], {
    out: (t) => {
      const text = typeof t === "string" ? t : new TextDecoder().decode(t);
      stdout += text;
      o.onOut?.(text);
    },
    err: (t) => stderr += t,
    stdin,
    env: o.env ?? {},
    interrupt: o.interrupt ?? new AbortController().signal,
  });
  return { code, stdout, stderr };
}

/** Text with ids, durations, sizes and logs replaced, so twins' outputs compare equal. */
export function normalize(text: string, twins: Twins): string {
  const ids = new Map<string, string>();
  const id = (s: string) => {
    let v = ids.get(s);
    if (!v) ids.set(s, v = `<id${ids.size + 1}>`);
    return v;
  };
  return text
    .split("\n")
    .filter((l) => !l.startsWith('{"level":')) // etcdctl's zap log lines
    .join("\n")
    .replaceAll(twins.a.url, "<url>")
    .replaceAll(twins.b.url, "<url>")
    .replaceAll(new URL(twins.a.url).host, "<ep>")
    .replaceAll(new URL(twins.b.url).host, "<ep>")
    .replace(/http:\/\/127\.0\.0\.1:\d+/g, "<peer-url>")
    .replace(/\b[0-9a-f]{12,16}\b|\b\d{15,20}\b/g, (m) => id(m))
    .replace(/ +<id/g, " <id") // %16x pads a shorter id with spaces
    .replace(/took = [\d.]+[µmn]?s/g, "took = <took>")
    .replace(/"took":"[^"]*"/g, '"took":"<took>"')
    .replace(/"Took" : \S+/g, '"Took" : <took>')
    .replace(/\b\d+(\.\d)? [kMG]?B\b/g, "<size>")
    .replace(/\b\d+(\.\d+)?(ms|µs|ns)|\b\d+\.\d+s\b/g, "<duration>")
    .replace(/"(dbSize|dbSizeInUse)":\d+/g, '"$1":<n>')
    .replace(/"DBSize" : \d+/g, '"DBSize" : <n>')
    .replace(/^(\|.*\|)$/gm, (l) => l.replace(/ +/g, " "))
    .replace(/^(\+[-+]+\+)$/gm, (l) => l.replace(/-+/g, "-"));
}

/** A run's output as a step compares it. */
export function normalizeRun(r: CtlResult, side: "a" | "b", twins: Twins, step: Step): CtlResult {
  const m = (text: string) => {
    for (const [raw, to] of Object.entries(step.known?.[side] ?? {})) {
      text = text.replaceAll(raw, to);
    }
    const masked = (step.mask ?? []).reduce(
      (t, re) => t.replace(re, "<masked>"),
      normalize(text, twins),
    );
    let lines = masked.split("\n").filter((l) => !step.drop?.test(l));
    if (step.sortLines) lines = lines.sort();
    return lines.join("\n");
  };
  return { code: r.code, stdout: m(r.stdout), stderr: m(r.stderr) };
}

/** One step of a script: ctl arguments (after the global flags) and run options. */
export interface Step extends RunOptions {
  /** The arguments, or per twin (ids such as leases differ between them). */
  args: string[] | ((side: "a" | "b") => string[]);
  /** Extra replacements applied to both outputs (e.g. a hash that holds lease ids). */
  mask?: RegExp[];
  /** Lines left out of both outputs (e.g. keep-alive renewals, whose number varies). */
  drop?: RegExp;
  /** Per twin, texts replaced before normalizing (ids known to the test, e.g. a new member). */
  known?: { a: Record<string, string>; b: Record<string, string> };
  /** Compare the lines in sorted order (for lists whose order follows random ids). */
  sortLines?: boolean;
}

/** Runs `step` with etcdctl on twin a and concord ctl on twin b; both must print the same. */
export async function same(twins: Twins, step: Step): Promise<CtlResult> {
  const args = (side: "a" | "b") => typeof step.args === "function" ? step.args(side) : step.args;
  const [want, got] = await Promise.all([
    runEtcdctl(twins.a.url, args("a"), step),
    runConcordCtl(twins.b.url, args("b"), step),
  ]);
  const norm = (r: CtlResult, side: "a" | "b") => normalizeRun(r, side, twins, step);
  assert.deepEqual(
    norm(got, "b"),
    norm(want, "a"),
    `[${twins.kind}] ctl ${args("b").join(" ")}\n--- etcdctl:\n${want.stdout}${want.stderr}\n` +
      `--- concord ctl:\n${got.stdout}${got.stderr}`,
  );
  return got;
}

/** Runs `body` on etcd twins and on Concord twins at the same time; fails if either does. */
export async function onBothKinds(body: (t: Twins) => Promise<void>): Promise<void> {
  const results = await Promise.allSettled([etcdTwins, concordTwins].map(async (start) => {
    const t = await start();
    try {
      await body(t);
    } finally {
      await t.stop();
    }
  }));
  for (const r of results) if (r.status === "rejected") throw r.reason;
}

/** Resolves once `check()` holds, polling; fails after `ms`. */
async function until(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A long-running command (watch, lease keep-alive, lock, elect) run by both tools until
 * `done(stdout)` holds for each, then interrupted (SIGINT for etcdctl, the interrupt signal
 * for ctl); stdin, if given, stays open until then. `during` runs once both have started.
 * Both outputs must match as in `same`.
 */
export async function sameUntil(
  twins: Twins,
  step: Step,
  done: (stdout: string) => boolean,
  during?: (side: "a" | "b", url: string) => Promise<void>,
): Promise<CtlResult> {
  const args = (side: "a" | "b") => typeof step.args === "function" ? step.args(side) : step.args;
  const dec = new TextDecoder();
  // etcdctl
  const child = new Deno.Command("etcdctl", {
    args: [...GLOBALS(twins.a.url), ...args("a")],
    env: { ETCDCTL_API: "3", ...step.env },
    stdin: step.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = step.stdin === undefined ? undefined : child.stdin.getWriter();
  if (writer) await writer.write(new TextEncoder().encode(step.stdin));
  let aOut = "";
  const aRead = (async () => {
    for await (const c of child.stdout) aOut += dec.decode(c, { stream: true });
  })();
  const aErr = new Response(child.stderr).text();
  // concord ctl
  const ac = new AbortController();
  let bOut = "";
  let bErr = "";
  let streamCtl: ReadableStreamDefaultController<Uint8Array> | undefined;
  const stdinStream = step.stdin === undefined ? undefined : new ReadableStream<Uint8Array>({
    start(c) {
      streamCtl = c;
      c.enqueue(new TextEncoder().encode(step.stdin));
    },
  });
  const bRun = runCtl([...GLOBALS(twins.b.url), ...args("b")], {
    out: (t) => bOut += typeof t === "string" ? t : new TextDecoder().decode(t),
    err: (t) => bErr += t,
    stdin: new StdinReader(stdinStream ?? null),
    env: step.env ?? {},
    interrupt: ac.signal,
  });
  let bCode: number | undefined;
  bRun.then((c) => bCode = c, () => bCode = -1);
  const stopBoth = async () => {
    try {
      child.kill("SIGINT");
    } catch (err) {
      if (!(err instanceof TypeError)) throw err; // it had exited already
    }
    ac.abort();
    // stdin stays open until etcdctl has gone: an EOF first would end it another way
    await child.status;
    if (writer) await writer.close().catch((err) => void err);
    streamCtl?.close();
  };
  try {
    if (during) await Promise.all([during("a", twins.a.url), during("b", twins.b.url)]);
    await until(`etcdctl ${args("a").join(" ")}: ${aOut}`, () => done(aOut));
    await until(
      `ctl ${args("b").join(" ")}: ${bOut}${bErr}`,
      () => done(bOut) || bCode !== undefined,
    );
  } finally {
    await stopBoth();
  }
  const status = await child.status;
  await aRead;
  const want = { code: status.code, stdout: aOut, stderr: await aErr };
  const got = { code: await bRun, stdout: bOut, stderr: bErr };
  const norm = (r: CtlResult, side: "a" | "b") => normalizeRun(r, side, twins, step);
  assert.deepEqual(
    norm(got, "b"),
    norm(want, "a"),
    `[${twins.kind}] ctl ${args("b").join(" ")}\n--- etcdctl:\n${want.stdout}${want.stderr}\n` +
      `--- concord ctl:\n${got.stdout}${got.stderr}`,
  );
  return got;
}

/**
 * A read-only command run by both tools against the same server (twin a): the outputs must
 * be identical bytes, ids included (for formats no placeholder can reach, e.g. protobuf).
 */
export async function sameOnOne(twins: Twins, args: string[]): Promise<void> {
  const [want, got] = await Promise.all([
    runEtcdctl(twins.a.url, args),
    runConcordCtl(twins.a.url, args),
  ]);
  const strip = (s: string) => s.split("\n").filter((l) => !l.startsWith('{"level":')).join("\n");
  assert.deepEqual(
    { code: got.code, stdout: got.stdout, stderr: strip(got.stderr) },
    { code: want.code, stdout: want.stdout, stderr: strip(want.stderr) },
    `[${twins.kind}] ctl ${args.join(" ")} on the same server`,
  );
}
