/**
 * Unary gRPC round trips over one connection to our own server (a Connect router serving
 * test.Echo/Say), with lib/http/h2_client.ts and, for comparison, the load generator's client
 * (bench/loadgen/h2_grpc.ts): sequential calls (latency) and 32 in flight (throughput), h2c and
 * TLS. Client and server share this process, so the numbers are per-call CPU of both ends.
 * Calls per second = calls per iteration / time per iteration.
 * `deno bench -A bench/h2_client_bench.ts`.
 */
import { create, type DescMethodUnary, fromBinary, toBinary } from "@bufbuild/protobuf";
import { StringValueSchema, type StringValueSchema as SV } from "@bufbuild/protobuf/wkt";
import { H2ClientSession } from "../lib/http/h2_client.ts";
import { type HttpServer, serveHttp } from "../lib/http/server.ts";
import { H2GrpcConn } from "./loadgen/h2_grpc.ts";
import { echoHandler, EchoService } from "../tests/http/echo_service.ts";
import { makePki } from "../tests/http/mtls_pki.ts";

const SEQUENTIAL = 500;
const CONCURRENT = 2000;
const IN_FLIGHT = 32;
const m = EchoService.method.say;
if (m.methodKind !== "unary") throw new Error("test.Echo/Say is not unary");
const say = m as DescMethodUnary<typeof SV, typeof SV>;
const GRPC_HEADERS: [string, string][] = [["content-type", "application/grpc"], ["te", "trailers"]];

/** One unary call with the h2 client: envelope, request, body, grpc-status. */
async function unary(s: H2ClientSession, value: string): Promise<string> {
  const msg = toBinary(StringValueSchema, create(StringValueSchema, { value }));
  const body = new Uint8Array(5 + msg.length);
  new DataView(body.buffer).setUint32(1, msg.length);
  body.set(msg, 5);
  const r = await s.request({ method: "POST", path: "/test.Echo/Say", headers: GRPC_HEADERS, body })
    .response;
  const parts: Uint8Array[] = [];
  for await (const c of r.body) parts.push(c);
  const all = parts.length === 1 ? parts[0] : new Uint8Array(parts.flatMap((p) => [...p]));
  const status = (await r.trailers).find(([n]) => n === "grpc-status")?.[1];
  if (status !== "0") throw new Error(`grpc-status ${status}`);
  return fromBinary(StringValueSchema, all.subarray(5)).value;
}

async function inFlight(n: number, total: number, call: (i: number) => Promise<unknown>) {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < total) await call(next++);
  }));
}

// The TLS material is made once; the files are gone before the benchmarks run.
const pki = await makePki({});
const tlsCa = await Deno.readTextFile(pki.ca);
const tlsCert = await Deno.readTextFile(pki.server.cert);
const tlsKey = await Deno.readTextFile(pki.server.key);
await Deno.remove(pki.dir, { recursive: true });

async function withServer(tls: boolean, fn: (s: HttpServer) => Promise<void>): Promise<void> {
  const server = await serveHttp({
    handler: echoHandler(),
    tls: tls ? { cert: tlsCert, key: tlsKey } : undefined,
  });
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

Deno.bench(
  `h2 client: ${SEQUENTIAL} sequential unary calls, h2c`,
  { group: "sequential", baseline: true, n: 20 },
  async (b) => {
    await withServer(false, async (server) => {
      const s = await H2ClientSession.connect({ url: `http://127.0.0.1:${server.port}` });
      await unary(s, "warm");
      b.start();
      for (let i = 0; i < SEQUENTIAL; i++) await unary(s, "hello");
      b.end();
      await s.close();
    });
  },
);

Deno.bench(
  `loadgen H2GrpcConn: ${SEQUENTIAL} sequential unary calls, h2c`,
  { group: "sequential", n: 20 },
  async (b) => {
    await withServer(false, async (server) => {
      const c = await H2GrpcConn.connect(`http://127.0.0.1:${server.port}`);
      await c.unary(say, { value: "warm" });
      b.start();
      for (let i = 0; i < SEQUENTIAL; i++) await c.unary(say, { value: "hello" });
      b.end();
      await c.close();
    });
  },
);

Deno.bench(
  `h2 client: ${SEQUENTIAL} sequential unary calls, TLS`,
  { group: "sequential", n: 20 },
  async (b) => {
    await withServer(true, async (server) => {
      const s = await H2ClientSession.connect({
        url: `https://127.0.0.1:${server.port}`,
        tls: { caCerts: [tlsCa] },
      });
      await unary(s, "warm");
      b.start();
      for (let i = 0; i < SEQUENTIAL; i++) await unary(s, "hello");
      b.end();
      await s.close();
    });
  },
);

Deno.bench(
  `h2 client: ${CONCURRENT} unary calls, ${IN_FLIGHT} in flight, h2c`,
  { group: "concurrent", baseline: true, n: 10 },
  async (b) => {
    await withServer(false, async (server) => {
      const s = await H2ClientSession.connect({ url: `http://127.0.0.1:${server.port}` });
      await unary(s, "warm");
      b.start();
      await inFlight(IN_FLIGHT, CONCURRENT, () => unary(s, "hello"));
      b.end();
      await s.close();
    });
  },
);

Deno.bench(
  `loadgen H2GrpcConn: ${CONCURRENT} unary calls, ${IN_FLIGHT} in flight, h2c`,
  { group: "concurrent", n: 10 },
  async (b) => {
    await withServer(false, async (server) => {
      const c = await H2GrpcConn.connect(`http://127.0.0.1:${server.port}`);
      await c.unary(say, { value: "warm" });
      b.start();
      await inFlight(IN_FLIGHT, CONCURRENT, () => c.unary(say, { value: "hello" }));
      b.end();
      await c.close();
    });
  },
);
