/**
 * Real gRPC clients, none written by us, against the API handler served by lib/http:
 * Connect's gRPC / gRPC-web / Connect transports over HTTP/2 and HTTP/1.1, @grpc/grpc-js
 * with @grpc/proto-loader reading our .proto files, and etcdctl 3.4.
 */
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { KV, Watch } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import {
  Health,
  HealthCheckResponse_ServingStatus,
} from "../../proto/gen/grpc/health/v1/health_pb.ts";
import { Errors } from "../../lib/base/errors.ts";
import { createApiHandler } from "../../lib/api/handler.ts";
import { serveHttp } from "../../lib/http/server.ts";
import { FakeEtcd } from "./double.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const PROTO_DIR = new URL("../../proto", import.meta.url).pathname;

/**
 * One HTTP/2 session per transport, closed by the test before the server goes away: Deno's
 * node:http2 client aborts the process (an nghttp2 assertion) when a server GOAWAY reaches a
 * session that is still open, so sessions must never outlive the server.
 */
class Sessions {
  readonly #all: Http2SessionManager[] = [];
  get(url: string): Http2SessionManager {
    const sm = new Http2SessionManager(url);
    this.#all.push(sm);
    return sm;
  }
  closeAll(): void {
    for (const sm of this.#all) sm.abort();
  }
}

async function start(fake: FakeEtcd) {
  const server = await serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    handler: createApiHandler({ services: fake.services(), health: () => ({ healthy: true }) }),
  });
  return { server, url: `http://127.0.0.1:${server.port}` };
}

Deno.test("Connect's gRPC, gRPC-web and Connect transports over lib/http (HTTP/2 and HTTP/1.1)", async () => {
  const fake = new FakeEtcd();
  const { server, url } = await start(fake);
  const sessions = new Sessions();
  try {
    const transports = [
      createGrpcTransport({ baseUrl: url, sessionManager: sessions.get(url) }),
      createGrpcWebTransport({ baseUrl: url, httpVersion: "2", sessionManager: sessions.get(url) }),
      createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" }),
      createConnectTransport({
        baseUrl: url,
        httpVersion: "2",
        useBinaryFormat: true,
        sessionManager: sessions.get(url),
      }),
      createConnectTransport({ baseUrl: url, httpVersion: "1.1" }),
    ];
    let n = 0;
    for (const t of transports) {
      const kv = createClient(KV, t);
      n++;
      const put = await kv.put({ key: enc(`k${n}`), value: enc(`v${n}`) });
      assert.equal(put.header?.revision, BigInt(n + 1));
      const got = await kv.range({ key: enc(`k${n}`) });
      assert.equal(dec(got.kvs[0].value), `v${n}`);
      const err = await kv.put({ key: new Uint8Array() }).then(
        () => assert.fail("empty key accepted"),
        (e: unknown) => ConnectError.from(e),
      );
      assert.equal(err.code, Code.InvalidArgument);
      assert.equal(err.rawMessage, Errors.emptyKey.message);
    }

    // Bidirectional streaming (watch) needs HTTP/2: the gRPC transport.
    const watch = createClient(
      Watch,
      createGrpcTransport({ baseUrl: url, sessionManager: sessions.get(url) }),
    );
    const ac = new AbortController();
    const requests = (async function* () {
      yield { requestUnion: { case: "createRequest" as const, value: { key: enc("w") } } };
      await new Promise<void>((r) => ac.signal.addEventListener("abort", () => r()));
    })();
    const stream = watch.watch(requests, { signal: ac.signal })[Symbol.asyncIterator]();
    const created = await stream.next();
    assert.equal(created.value?.created, true);
    await createClient(KV, transports[0]).put({ key: enc("w"), value: enc("1") });
    const ev = await stream.next();
    assert.equal(dec(ev.value?.events[0].kv?.value ?? new Uint8Array()), "1");
    ac.abort();
    await stream.return?.();
  } finally {
    sessions.closeAll();
    await server.close();
  }
});

Deno.test("@grpc/grpc-js with proto-loader on our .proto files: unary, errors, watch", async () => {
  const fake = new FakeEtcd();
  const { server } = await start(fake);
  const def = await protoLoader.load("etcdserverpb/rpc.proto", {
    includeDirs: [PROTO_DIR],
    keepCase: true,
    longs: String,
    defaults: false,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    etcdserverpb: Record<string, new (addr: string, creds: grpc.ChannelCredentials) => grpc.Client>;
  };
  const kv = new pkg.etcdserverpb.KV(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  const watch = new pkg.etcdserverpb.Watch(
    `127.0.0.1:${server.port}`,
    grpc.credentials.createInsecure(),
  );
  type Cb = (err: grpc.ServiceError | null, res: Record<string, unknown>) => void;
  const unary = (client: grpc.Client, name: string, req: object) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      (client as unknown as Record<string, (r: object, cb: Cb) => void>)[name](req, (err, res) => {
        if (err) reject(err);
        else resolve(res);
      });
    });
  try {
    const put = await unary(kv, "Put", { key: Buffer.from("g"), value: Buffer.from("js") });
    assert.equal((put.header as Record<string, string>).revision, "2");
    const got = await unary(kv, "Range", { key: Buffer.from("g") });
    const kvs = got.kvs as { value: Buffer }[];
    assert.equal(kvs[0].value.toString(), "js");
    const err = await unary(kv, "Put", { key: Buffer.alloc(0) }).then(
      () => assert.fail("empty key accepted"),
      (e: grpc.ServiceError) => e,
    );
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(err.details, Errors.emptyKey.message);

    const call =
      (watch as unknown as { Watch(): grpc.ClientDuplexStream<object, Record<string, unknown>> })
        .Watch();
    const seen: Record<string, unknown>[] = [];
    let wake: () => void = () => {};
    call.on("data", (m: Record<string, unknown>) => {
      seen.push(m);
      wake();
    });
    call.on("error", () => {});
    const until = (n: number) =>
      new Promise<void>((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`watch: ${seen.length} of ${n} responses`)),
          10_000,
        );
        const check = () => {
          if (seen.length >= n) {
            clearTimeout(t);
            resolve();
          }
        };
        wake = check;
        check();
      });
    call.write({ create_request: { key: Buffer.from("g") } });
    await until(1);
    assert.equal(seen[0].created, true);
    await unary(kv, "Put", { key: Buffer.from("g"), value: Buffer.from("again") });
    await until(2);
    const events = seen[1].events as { kv: { value: Buffer } }[];
    assert.equal(events[0].kv.value.toString(), "again");
    call.cancel();
  } finally {
    kv.close();
    watch.close();
    await server.close();
  }
});

async function etcdctl(port: number, ...args: string[]) {
  const out = await new Deno.Command("etcdctl", {
    args: ["--endpoints", `http://127.0.0.1:${port}`, "--dial-timeout", "5s", ...args],
    env: { ETCDCTL_API: "3" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("etcdctl 3.4: put, get, endpoint status, endpoint health, errors", async () => {
  const fake = new FakeEtcd();
  const { server } = await start(fake);
  try {
    const put = await etcdctl(server.port, "put", "foo", "bar");
    assert.equal(put.stdout.trim(), "OK", put.stderr);
    const get = await etcdctl(server.port, "get", "foo");
    assert.equal(get.stdout, "foo\nbar\n", get.stderr);
    const json = await etcdctl(server.port, "get", "foo", "-w", "json");
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.count, 1);
    assert.equal(atob(parsed.kvs[0].value), "bar");
    const status = await etcdctl(server.port, "endpoint", "status", "-w", "json");
    const st = JSON.parse(status.stdout)[0];
    assert.equal(st.Status.version, "3.5.0", status.stderr);
    assert.equal(st.Status.raftTerm, 2);
    const health = await etcdctl(server.port, "endpoint", "health");
    assert.match(health.stdout + health.stderr, /is healthy/);
    const bad = await etcdctl(server.port, "get", "foo", "--rev", "99");
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /required revision is a future revision/);
    const unimpl = await etcdctl(server.port, "compaction", "1");
    assert.notEqual(unimpl.code, 0);
    assert.match(unimpl.stderr, /Unimplemented|unknown method/i);
  } finally {
    await server.close();
  }
});

Deno.test("etcdctl 3.4: lease grant, put --lease, keep-alive stream, txn, del, member list", async () => {
  const fake = new FakeEtcd();
  const { server } = await start(fake);
  try {
    const grant = await etcdctl(server.port, "lease", "grant", "60");
    const id = /lease ([0-9a-f]+) granted with TTL\(60s\)/.exec(grant.stdout)?.[1];
    assert.ok(id, grant.stdout + grant.stderr);
    assert.equal((await etcdctl(server.port, "put", "leased", "v", "--lease", id)).stdout, "OK\n");
    const ka = await etcdctl(server.port, "lease", "keep-alive", "--once", id);
    assert.match(ka.stdout, new RegExp(`lease ${id} keepalived with TTL\\(60\\)`), ka.stderr);
    const bad = await etcdctl(server.port, "put", "x", "v", "--lease", "1234");
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /requested lease not found/);
    const txn = await new Deno.Command("etcdctl", {
      args: ["--endpoints", `http://127.0.0.1:${server.port}`, "txn"],
      env: { ETCDCTL_API: "3" },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = txn.stdin.getWriter();
    await w.write(new TextEncoder().encode('value("leased") = "v"\n\nput t yes\n\nput t no\n\n'));
    await w.close();
    const txnOut = await txn.output();
    assert.equal(new TextDecoder().decode(txnOut.stdout), "SUCCESS\n\nOK\n");
    assert.equal((await etcdctl(server.port, "get", "t", "--print-value-only")).stdout, "yes\n");
    assert.equal((await etcdctl(server.port, "del", "t")).stdout, "1\n");
    const members = JSON.parse((await etcdctl(server.port, "member", "list", "-w", "json")).stdout);
    assert.equal(members.members[0].name, "default");
  } finally {
    await server.close();
  }
});

Deno.test("etcdctl watch receives events over gRPC", async () => {
  const fake = new FakeEtcd();
  const { server } = await start(fake);
  const child = new Deno.Command("etcdctl", {
    args: ["--endpoints", `http://127.0.0.1:${server.port}`, "watch", "wk"],
    env: { ETCDCTL_API: "3" },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    // etcdctl prints nothing on create; wait until the server has a watcher, then write.
    const deadline = Date.now() + 10_000;
    while (fake.watcherCount() === 0) {
      if (Date.now() > deadline) throw new Error("etcdctl watch never connected");
      await new Promise((r) => setTimeout(r, 20));
    }
    await etcdctl(server.port, "put", "wk", "hello");
    const dec = new TextDecoder();
    let out = "";
    for await (const chunk of child.stdout) {
      out += dec.decode(chunk, { stream: true });
      if (out.includes("hello\n")) break;
    }
    assert.equal(out, "PUT\nwk\nhello\n");
  } finally {
    child.kill();
    await child.status;
    await server.close();
  }
});

Deno.test("gRPC: a request over --max-request-bytes gets etcd's request-too-large", async () => {
  const fake = new FakeEtcd();
  const server = await serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    handler: createApiHandler({ services: fake.services(), maxRequestBytes: 1024 }),
  });
  const url = `http://127.0.0.1:${server.port}`;
  const sessions = new Sessions();
  try {
    const kv = createClient(
      KV,
      createGrpcTransport({ baseUrl: url, sessionManager: sessions.get(url) }),
    );
    const err = await kv.put({ key: enc("k"), value: new Uint8Array(600 * 1024) }).then(
      () => assert.fail("oversized put accepted"),
      (e: unknown) => ConnectError.from(e),
    );
    assert.equal(err.code, Code.InvalidArgument);
    assert.equal(err.rawMessage, Errors.requestTooLarge.message);
    await kv.put({ key: enc("k"), value: new Uint8Array(1000) });
    assert.deepEqual(fake.calls, ["Put"]);
  } finally {
    sessions.closeAll();
    await server.close();
  }
});

Deno.test("with lib/http's bounds above the API's, oversized requests get etcd's error", async () => {
  // With lib/http's bounds above maxRequestBytes + 512 KiB, the API's own check trips.
  const fake = new FakeEtcd();
  const server = await serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    handler: createApiHandler({ services: fake.services() }),
    limits: { maxBodyBytes: 8 * 1024 * 1024, maxMessageBytes: 8 * 1024 * 1024 },
  });
  const url = `http://127.0.0.1:${server.port}`;
  const sessions = new Sessions();
  try {
    const big = new Uint8Array(3 * 1024 * 1024);
    for (
      const t of [
        createGrpcTransport({ baseUrl: url, sessionManager: sessions.get(url) }),
        createConnectTransport({ baseUrl: url, httpVersion: "1.1" }),
      ]
    ) {
      const err = await createClient(KV, t).put({ key: enc("k"), value: big }).then(
        () => assert.fail("oversized put accepted"),
        (e: unknown) => ConnectError.from(e),
      );
      assert.equal(err.code, Code.InvalidArgument);
      assert.equal(err.rawMessage, Errors.requestTooLarge.message);
    }
    assert.deepEqual(fake.calls, []);
  } finally {
    sessions.closeAll();
    await server.close();
  }
});

Deno.test("grpc.health.v1: Check follows the health check; unknown services are NotFound", async () => {
  let healthy = true;
  const server = await serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    handler: createApiHandler({ services: {}, health: () => ({ healthy }) }),
  });
  const url = `http://127.0.0.1:${server.port}`;
  const sessions = new Sessions();
  const def = await protoLoader.load("grpc/health/v1/health.proto", {
    includeDirs: [PROTO_DIR],
    keepCase: true,
    enums: String,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    grpc: {
      health: { v1: { Health: new (a: string, c: grpc.ChannelCredentials) => grpc.Client } };
    };
  };
  const client = new pkg.grpc.health.v1.Health(
    `127.0.0.1:${server.port}`,
    grpc.credentials.createInsecure(),
  );
  const check = (service: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      (client as unknown as Record<
        string,
        (r: object, cb: (e: grpc.ServiceError | null, r: Record<string, unknown>) => void) => void
      >)
        .Check({ service }, (e, r) => (e ? reject(e) : resolve(r)));
    });
  try {
    assert.equal((await check("")).status, "SERVING");
    healthy = false;
    assert.equal((await check("")).status, "NOT_SERVING");
    const nf = await check("etcdserverpb.KV").then(
      () => assert.fail("unknown service answered"),
      (e) => e,
    );
    assert.equal(nf.code, grpc.status.NOT_FOUND);

    const health = createClient(
      Health,
      createGrpcTransport({ baseUrl: url, sessionManager: sessions.get(url) }),
    );
    assert.equal((await health.check({})).status, HealthCheckResponse_ServingStatus.NOT_SERVING);
    const watch = await (async () => {
      for await (const _ of health.watch({})) return undefined;
    })().then(() => undefined, (e: unknown) => ConnectError.from(e));
    assert.equal(watch?.code, Code.Unimplemented);
  } finally {
    client.close();
    sessions.closeAll();
    await server.close();
  }
});

Deno.test("over lib/http's own default body bounds, clients still get etcd's error", async () => {
  const fake = new FakeEtcd();
  const { server, url } = await start(fake);
  const sessions = new Sessions();
  try {
    const big = new Uint8Array(3 * 1024 * 1024);
    for (
      const t of [
        createGrpcTransport({ baseUrl: url, sessionManager: sessions.get(url) }),
        createConnectTransport({ baseUrl: url, httpVersion: "1.1" }),
        createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" }),
      ]
    ) {
      const err = await createClient(KV, t).put({ key: enc("k"), value: big }).then(
        () => assert.fail("oversized put accepted"),
        (e: unknown) => ConnectError.from(e),
      );
      assert.equal(err.code, Code.InvalidArgument);
      assert.equal(err.rawMessage, Errors.requestTooLarge.message);
    }
    assert.deepEqual(fake.calls, []);
  } finally {
    sessions.closeAll();
    await server.close();
  }
});
