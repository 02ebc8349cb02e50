/**
 * Load test of the API front through the full router (protocol negotiation, decoding, the
 * instrumented service wrapper, encoding) with a trivial KV.Range, over lib/http:
 * Connect JSON and the REST gateway on HTTP/1.1 and gRPC unary on h2c, driven by h2load. The peer is a real etcd
 * 3.4 on the same machine (its gateway's JSON on HTTP/1.1 and its gRPC Range), which does a
 * real (tiny) read, so its figures bound ours from the other side.
 *
 *   deno run -A bench/api_load.ts [requests=20000]
 *
 * Prints a markdown table: requests per second and server CPU per request (user+sys).
 */
import process from "node:process";
import { create, toBinary } from "@bufbuild/protobuf";
import { createApiHandler } from "../lib/api/handler.ts";
import { serveHttp } from "../lib/http/server.ts";
import { RangeRequestSchema } from "../proto/gen/etcdserverpb/rpc_pb.ts";
import { freePort, procCpuSeconds } from "./cluster.ts";

const N = Number(Deno.args[0] ?? 20000);

function grpcBody(): Uint8Array {
  const msg = toBinary(
    RangeRequestSchema,
    create(RangeRequestSchema, { key: new TextEncoder().encode("foo") }),
  );
  const out = new Uint8Array(5 + msg.length);
  new DataView(out.buffer).setUint32(1, msg.length);
  out.set(msg, 5);
  return out;
}

interface Run {
  rps: number;
  ok: number;
}

async function h2load(url: string, file: string, headers: string[], h1: boolean): Promise<Run> {
  const args = ["-n", String(N), "-c", "16", "-m", h1 ? "1" : "8", "-d", file];
  for (const h of headers) args.push("-H", h);
  if (h1) args.push("--h1");
  args.push(url);
  const out = await new Deno.Command("h2load", { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  const rps = Number(/finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(text)?.[1] ?? NaN);
  const ok = Number(/(\d+) succeeded/.exec(text)?.[1] ?? NaN);
  if (!(ok > 0)) throw new Error(`h2load ${args.join(" ")}:\n${text}`);
  return { rps, ok };
}

function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

const dir = await Deno.makeTempDir({ prefix: "concord-api-bench-" });
const grpcFile = `${dir}/range.grpc`;
const jsonFile = `${dir}/range.json`;
await Deno.writeFile(grpcFile, grpcBody());
await Deno.writeTextFile(jsonFile, `{"key":"Zm9v"}`);

const handler = createApiHandler({
  services: { kv: { range: () => ({ header: { revision: 1n, raftTerm: 1n } }) } },
});
const server = await serveHttp({ hostname: "127.0.0.1", port: 0, handler });
const ours = `http://127.0.0.1:${server.port}`;

const client = `http://127.0.0.1:${freePort()}`;
const peer = `http://127.0.0.1:${freePort()}`;
const etcd = new Deno.Command("etcd", {
  args: [
    "--data-dir",
    `${dir}/etcd`,
    "--listen-client-urls",
    client,
    "--advertise-client-urls",
    client,
    "--listen-peer-urls",
    peer,
    "--initial-advertise-peer-urls",
    peer,
    "--initial-cluster",
    `default=${peer}`,
  ],
  stdout: "null",
  stderr: "null",
}).spawn();

try {
  const deadline = Date.now() + 20_000;
  while (true) {
    try {
      const r = await fetch(`${client}/health`);
      await r.body?.cancel();
      if (r.ok) break;
    } catch {
      // not yet listening
    }
    if (Date.now() > deadline) throw new Error("etcd did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
  await fetch(`${client}/v3/kv/put`, { method: "POST", body: `{"key":"Zm9v","value":"YmFy"}` })
    .then((r) => r.body?.cancel());

  const cases: [string, string, string, string[], boolean][] = [
    ["Connect JSON, HTTP/1.1", `${ours}/etcdserverpb.KV/Range`, jsonFile, [
      "content-type: application/json",
    ], true],
    ["REST gateway JSON, HTTP/1.1", `${ours}/v3/kv/range`, jsonFile, [
      "content-type: application/json",
    ], true],
    ["etcd gateway JSON, HTTP/1.1", `${client}/v3/kv/range`, jsonFile, [
      "content-type: application/json",
    ], true],
    ["gRPC unary, h2c", `${ours}/etcdserverpb.KV/Range`, grpcFile, [
      "content-type: application/grpc",
      "te: trailers",
    ], false],
    ["etcd gRPC unary, h2c", `${client}/etcdserverpb.KV/Range`, grpcFile, [
      "content-type: application/grpc",
      "te: trailers",
    ], false],
  ];
  console.log(`| case | req/s | server CPU µs/req |`);
  console.log(`|---|---|---|`);
  for (const [name, url, file, headers, h1] of cases) {
    const isEtcd = url.startsWith(client);
    const cpu0 = isEtcd ? procCpuSeconds(etcd.pid) : selfCpuSeconds();
    const run = await h2load(url, file, headers, h1);
    const cpu1 = isEtcd ? procCpuSeconds(etcd.pid) : selfCpuSeconds();
    const us = ((cpu1 - cpu0) / run.ok) * 1e6;
    console.log(`| ${name} | ${run.rps.toFixed(0)} | ${us.toFixed(1)} |`);
  }
} finally {
  etcd.kill();
  await etcd.status;
  await server.close();
  await Deno.remove(dir, { recursive: true });
}
