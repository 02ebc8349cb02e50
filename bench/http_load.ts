/**
 * Load benchmark of Concord's HTTP server against node:http2 under Deno, in the same run:
 * `deno run -A bench/http_load.ts [--quick]`. Needs h2load (nghttp2-client).
 *
 * Each server runs as its own process; requests/s come from h2load, CPU per request from the
 * server process's utime+stime (/proc/<pid>/stat) over the run, so the figures hold on a busy
 * machine too (the implied single-core rate is 1 s / CPU per request). Results are printed as a
 * Markdown table for docs/perf.md.
 */

const quick = Deno.args.includes("--quick");
const N = quick ? 10000 : 40000;
const GRPC_BODY = Uint8Array.of(0, 0, 0, 0, 7, 0x0a, 5, 104, 101, 108, 108, 111); // "hello"
const JSON_BODY = new TextEncoder().encode('"hello"');

interface Server {
  port: number;
  pid: number;
  child: Deno.ChildProcess;
  log: () => string;
}

async function start(script: string, args: string[]): Promise<Server> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, "0", ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  const dec = new TextDecoder();
  const reader = child.stdout.getReader();
  let port = 0;
  while (port === 0) {
    const r = await reader.read();
    if (r.done) throw new Error(`${script} exited before listening`);
    out += dec.decode(r.value);
    const m = /listening (\d+)/.exec(out);
    if (m !== null) port = Number(m[1]);
  }
  reader.releaseLock();
  let err = "";
  (async () => {
    for await (const c of child.stderr) err += dec.decode(c);
  })();
  child.stdout.cancel();
  return { port, pid: child.pid, child, log: () => err };
}

function cpuTicks(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
  } catch {
    return NaN;
  }
}

async function alive(s: Server): Promise<{ alive: boolean; code: number | null }> {
  const st = await Promise.race([
    s.child.status,
    new Promise<null>((r) => setTimeout(() => r(null), 300)),
  ]);
  return st === null ? { alive: true, code: null } : { alive: false, code: st.code };
}

interface Result {
  rps: number;
  cpuUsPerReq: number;
  ok: number;
  failed: number;
  cmd: string;
}

async function h2load(s: Server, args: string[], path: string, body: Uint8Array): Promise<Result> {
  const dataFile = await Deno.makeTempFile();
  await Deno.writeFile(dataFile, body);
  const full = [...args, "-d", dataFile, `http://127.0.0.1:${s.port}${path}`];
  const before = cpuTicks(s.pid);
  // Sampled during the run too: a server that crashes at the end still has a figure.
  let last = before;
  const sampler = setInterval(() => {
    const t = cpuTicks(s.pid);
    if (!Number.isNaN(t)) last = t;
  }, 20);
  const out = await new Deno.Command("h2load", { args: full, stdout: "piped", stderr: "piped" })
    .output();
  clearInterval(sampler);
  const now = cpuTicks(s.pid);
  const after = Number.isNaN(now) ? last : now;
  await Deno.remove(dataFile);
  const text = new TextDecoder().decode(out.stdout);
  const rps = Number(/finished in [^,]+, ([\d.]+) req\/s/.exec(text)?.[1] ?? NaN);
  const ok = Number(/(\d+) succeeded/.exec(text)?.[1] ?? 0);
  const failed = Number(/(\d+) failed/.exec(text)?.[1] ?? 0);
  const ticksPerSec = 100;
  const cpuUsPerReq = ok > 0 ? ((after - before) / ticksPerSec) * 1e6 / ok : NaN;
  const cmd = "h2load " + full.join(" ").replace(dataFile, "<body>").replace(/:\d+\//, ":PORT/");
  return { rps, cpuUsPerReq, ok, failed, cmd };
}

const GRPC = ["-H", "content-type: application/grpc", "-H", "te: trailers"];
const rows: string[] = [];
const notes: string[] = [];

function row(what: string, ours: Result, peer: Result | string): void {
  const p = typeof peer === "string"
    ? peer
    : `${peer.rps.toFixed(0)} req/s, ${peer.cpuUsPerReq.toFixed(1)} µs CPU/req${
      peer.failed > 0 ? `, ${peer.failed} failed` : ""
    }`;
  rows.push(
    `| ${what} | ${ours.rps.toFixed(0)} req/s, ${ours.cpuUsPerReq.toFixed(1)} µs CPU/req${
      ours.failed > 0 ? `, ${ours.failed} failed` : ""
    } | ${p} | \`${ours.cmd}\` |`,
  );
}

async function pair(
  what: string,
  ourArgs: string[],
  peerArgs: string[],
  h2args: string[],
  path: string,
  body: Uint8Array,
): Promise<void> {
  const ours = await start("bench/http_echo_server.ts", ourArgs);
  const r1 = await h2load(ours, h2args, path, body);
  const a1 = await alive(ours);
  if (a1.alive) ours.child.kill("SIGKILL");
  await ours.child.status;
  const peer = await start("bench/http_node_peer.ts", peerArgs);
  const r2 = await h2load(peer, h2args, path, body);
  const a2 = await alive(peer);
  if (a2.alive) peer.child.kill("SIGKILL");
  await peer.child.status;
  if (!a1.alive) notes.push(`Concord server died during "${what}" (exit ${a1.code})`);
  if (!a2.alive) {
    notes.push(
      `node:http2 crashed (exit ${a2.code}) at the end of "${what}" (client GOAWAY), after ` +
        `${r2.ok} responses; its rate and CPU are up to the crash`,
    );
  }
  row(what, r1, r2);
  console.error(`${what}: ours ${r1.rps.toFixed(0)} req/s; node:http2 ${r2.rps.toFixed(0)} req/s`);
}

await pair(
  "gRPC unary, trivial handler, 10 conns x 1 stream",
  ["trivial"],
  ["trivial"],
  ["-n", String(N / 2), "-c", "10", "-m", "1", "-t", "1", ...GRPC],
  "/test.Echo/Say",
  GRPC_BODY,
);
await pair(
  "gRPC unary, trivial handler, 10 conns x 50 streams",
  ["trivial"],
  ["trivial"],
  ["-n", String(N), "-c", "10", "-m", "50", "-t", "1", ...GRPC],
  "/test.Echo/Say",
  GRPC_BODY,
);
await pair(
  "gRPC unary through Connect's router, 10 conns x 50 streams",
  ["connect"],
  ["connect"],
  ["-n", String(N / 4), "-c", "10", "-m", "50", "-t", "1", ...GRPC],
  "/test.Echo/Say",
  GRPC_BODY,
);
await pair(
  "HTTP/1.1 POST echo, trivial handler (keep-alive), 10 conns",
  ["trivial"],
  ["trivial", "h1"],
  [
    "--h1",
    "-n",
    String(N / 2),
    "-c",
    "10",
    "-t",
    "1",
    "-H",
    "content-type: application/octet-stream",
  ],
  "/echo",
  GRPC_BODY,
);
await pair(
  "Connect JSON unary over HTTP/1.1 (keep-alive), 10 conns",
  ["connect"],
  ["connect", "h1"],
  ["--h1", "-n", String(N / 4), "-c", "10", "-t", "1", "-H", "content-type: application/json"],
  "/test.Echo/Say",
  JSON_BODY,
);

// GOAWAY: h2load closes each connection with GOAWAY after its share of requests.
for (const target of ["ours", "node:http2"]) {
  const s = target === "ours"
    ? await start("bench/http_echo_server.ts", ["trivial"])
    : await start("bench/http_node_peer.ts", ["trivial"]);
  let survived = 0;
  let code: number | null = null;
  for (let i = 0; i < 5; i++) {
    await h2load(s, ["-n", "2000", "-c", "4", "-m", "10", "-t", "1", ...GRPC], "/x", GRPC_BODY);
    const a = await alive(s);
    if (!a.alive) {
      code = a.code;
      break;
    }
    survived++;
  }
  if (code === null) s.child.kill("SIGKILL");
  await s.child.status;
  notes.push(
    `${target}: \`h2load -n 2000 -c 4 -m 10\` x5 (client GOAWAY after each connection's ` +
      `requests): ${
        code === null ? "survived all 5 runs" : `crashed in run ${survived + 1}, exit ${code}`
      }` +
      (code !== null && s.log().trim() !== ""
        ? ` (${s.log().trim().split("\n").slice(-1)[0].slice(0, 160)})`
        : ""),
  );
}

// Survival under assorted h2load options (flow-control windows of 256 octets, no HPACK table,
// 100 streams per connection, many connections, big headers, duration mode, HTTP/1.1).
const matrix = [
  "-n 3000 -c 50 -m 100",
  "-n 2000 -c 2 -m 200 -w 8 -W 8",
  "-n 1000 -c 1 -m 1 --header-table-size=0 --encoder-header-table-size=0",
  "-n 2000 -c 100 -m 1",
  `-n 1000 -c 4 -m 10 -H x-big:${"a".repeat(30000)}`,
  "-D 3 -c 20 -m 20",
  "--h1 -n 2000 -c 20",
];
for (const target of ["ours", "node:http2"]) {
  const s = target === "ours"
    ? await start("bench/http_echo_server.ts", ["trivial"])
    : await start("bench/http_node_peer.ts", ["trivial"]);
  const results: string[] = [];
  let dead = false;
  for (const opts of matrix) {
    const r = await h2load(s, [...opts.split(" "), ...GRPC], "/x", GRPC_BODY);
    const a = await alive(s);
    const shown = opts.length > 60 ? opts.slice(0, 40) + "…" : opts;
    results.push(
      `\`${shown}\`: ${r.ok} ok, ${r.failed} failed${a.alive ? "" : `, DIED (exit ${a.code})`}`,
    );
    if (!a.alive) {
      dead = true;
      break;
    }
  }
  if (!dead) s.child.kill("SIGKILL");
  await s.child.status;
  notes.push(`${target}, h2load option matrix: ${results.join("; ")}`);
}

console.log(`| case | Concord lib/http | node:http2 under Deno (same run) | command |`);
console.log(`|---|---|---|---|`);
for (const r of rows) console.log(r);
console.log("");
for (const n of notes) console.log(`- ${n}`);
