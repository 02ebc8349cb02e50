import assert from "node:assert/strict";
import { Errors } from "../../lib/base/errors.ts";
import { FakeEtcd } from "./double.ts";
import { curl, startApi } from "./harness.ts";
import { MetricsRegistry } from "../../lib/api/metrics.ts";

const b64 = (s: string) => btoa(s);

/** Reads newline-delimited lines from a child's stdout. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of stream) {
    buf += dec.decode(chunk, { stream: true });
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, i);
      buf = buf.slice(i + 1);
    }
  }
}

Deno.test("gateway: unary calls with etcd's JSON shape, aliases, methods and bad input", async () => {
  const fake = new FakeEtcd();
  const server = await startApi({ services: fake.services() });
  try {
    const u = server.url;
    const put = JSON.parse(
      await curl("-d", `{"key":"${b64("foo")}","value":"${b64("bar")}"}`, `${u}/v3/kv/put`),
    );
    assert.equal(put.header.revision, "2");
    assert.equal(typeof put.header.cluster_id, "string");
    const range = JSON.parse(await curl("-d", `{"key":"${b64("foo")}"}`, `${u}/v3/kv/range`));
    assert.deepEqual(range.kvs, [{
      key: b64("foo"),
      create_revision: "2",
      mod_revision: "2",
      version: "1",
      value: b64("bar"),
    }]);
    assert.equal(range.count, "1");
    // The /v3beta/ alias, unknown fields ignored, numbers accepted as strings or numbers.
    const beta = JSON.parse(
      await curl("-d", `{"key":"${b64("foo")}","limit":"1","bogus":7}`, `${u}/v3beta/kv/range`),
    );
    assert.deepEqual(beta.kvs, range.kvs);
    const alpha = JSON.parse(
      await curl("-d", `{"key":"${b64("foo")}","limit":1}`, `${u}/v3alpha/kv/range`),
    );
    assert.deepEqual(alpha.kvs, range.kvs);
    // An empty body is the empty request.
    const all = JSON.parse(await curl("-X", "POST", `${u}/v3/maintenance/status`));
    assert.equal(all.version, "3.5.0");
    assert.equal(all.dbSize, "20480");

    // Enums by name, nested oneofs by proto name.
    const txn = JSON.parse(
      await curl(
        "-d",
        JSON.stringify({
          compare: [{ key: b64("foo"), target: "VALUE", result: "EQUAL", value: b64("bar") }],
          success: [{ request_range: { key: b64("foo") } }],
        }),
        `${u}/v3/kv/txn`,
      ),
    );
    assert.equal(txn.succeeded, true);
    assert.equal(txn.responses[0].response_range.kvs[0].value, b64("bar"));

    // Errors: {"error","message","code"} with grpc-gateway's HTTP status.
    const bad = await curl("-w", "\n%{http_code}", "-d", `{"key":""}`, `${u}/v3/kv/put`);
    const [badBody, badStatus] = bad.split("\n");
    assert.equal(badStatus, "400");
    assert.deepEqual(JSON.parse(badBody), {
      error: Errors.emptyKey.message,
      message: Errors.emptyKey.message,
      code: 3,
    });
    const nf = await curl("-w", "\n%{http_code}", "-d", `{"ID":5}`, `${u}/v3/lease/revoke`);
    assert.deepEqual(nf.split("\n"), [
      JSON.stringify({
        error: Errors.leaseNotFound.message,
        message: Errors.leaseNotFound.message,
        code: 5,
      }),
      "404",
    ]);
    const garbled = await curl("-w", "\n%{http_code}", "-d", `{bad`, `${u}/v3/kv/range`);
    assert.equal(garbled.split("\n")[1], "400");
    assert.equal(JSON.parse(garbled.split("\n")[0]).code, 3);
    const unimpl = await curl("-w", "\n%{http_code}", "-d", `{}`, `${u}/v3/kv/compaction`);
    assert.equal(unimpl.split("\n")[1], "501");
    assert.equal(JSON.parse(unimpl.split("\n")[0]).code, 12);

    assert.equal(await curl("-o", "/dev/null", "-w", "%{http_code}", `${u}/v3/kv/range`), "405");
    assert.equal(
      await curl("-o", "/dev/null", "-w", "%{http_code}", "-d", "{}", `${u}/v3/kv/nope`),
      "404",
    );
    assert.equal(
      await curl("-o", "/dev/null", "-w", "%{http_code}", "-d", "{}", `${u}/nope`),
      "404",
    );
  } finally {
    await server.close();
  }
});

Deno.test("gateway: watch and lease keepalive stream newline-delimited results", async () => {
  const fake = new FakeEtcd();
  const server = await startApi({ services: fake.services() });
  const child = new Deno.Command("curl", {
    args: [
      "-sS",
      "-N",
      "-d",
      `{"create_request":{"key":"${b64("foo")}"}}`,
      `${server.url}/v3/watch`,
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    const it = lines(child.stdout);
    const created = JSON.parse((await it.next()).value as string);
    assert.deepEqual(Object.keys(created), ["result"]);
    assert.equal(created.result.created, true);
    assert.equal(created.result.header.revision, "1");
    await curl("-d", `{"key":"${b64("foo")}","value":"${b64("v1")}"}`, `${server.url}/v3/kv/put`);
    await curl("-d", `{"key":"${b64("other")}","value":"${b64("x")}"}`, `${server.url}/v3/kv/put`);
    await curl("-d", `{"key":"${b64("foo")}"}`, `${server.url}/v3/kv/deleterange`);
    const ev1 = JSON.parse((await it.next()).value as string).result;
    assert.deepEqual(ev1.events, [{
      kv: {
        key: b64("foo"),
        create_revision: "2",
        mod_revision: "2",
        version: "1",
        value: b64("v1"),
      },
    }]);
    const ev2 = JSON.parse((await it.next()).value as string).result;
    assert.equal(ev2.header.revision, "4");
    assert.equal(ev2.events[0].type, "DELETE");
    assert.deepEqual(ev2.events[0].kv, { key: b64("foo"), mod_revision: "4" });

    const grant = JSON.parse(await curl("-d", `{"TTL":30}`, `${server.url}/v3/lease/grant`));
    const ka = await curl(
      "-d",
      `{"ID":"${grant.ID}"}{"ID":"${grant.ID}"}`,
      `${server.url}/v3/lease/keepalive`,
    );
    const kas = ka.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(kas.length, 2);
    for (const k of kas) {
      assert.deepEqual({ ID: k.result.ID, TTL: k.result.TTL }, { ID: grant.ID, TTL: "30" });
    }
  } finally {
    child.kill();
    await child.status;
    await server.close();
  }
});

Deno.test("gateway: a streaming request value larger than the limit is refused", async () => {
  const server = await startApi({ services: new FakeEtcd().services(), maxRequestBytes: 1024 });
  const tmp = await Deno.makeTempFile();
  try {
    const huge = `{"create_request":{"key":"${"A".repeat(700 * 1024)}"}}`;
    await Deno.writeTextFile(tmp, huge);
    const out = await curl(
      "-w",
      "\n%{http_code}",
      "--data-binary",
      `@${tmp}`,
      `${server.url}/v3/watch`,
    );
    const [body, status] = out.split("\n");
    assert.equal(status, "400");
    assert.deepEqual(JSON.parse(body), {
      error: {
        grpc_code: 3,
        http_code: 400,
        message: Errors.requestTooLarge.message,
        http_status: "Bad Request",
      },
    });
  } finally {
    await Deno.remove(tmp);
    await server.close();
  }
});

Deno.test("gateway: server streams, stream errors before and after the first result", async () => {
  const fake = new FakeEtcd();
  const registry = new MetricsRegistry();
  const server = await startApi({
    services: {
      maintenance: fake.services().maintenance,
      election: {
        // Fails before sending anything: the HTTP status carries the error.
        observe() {
          return {
            [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(Errors.noLeader()) }),
          };
        },
      },
      lock: {},
      watch: {
        // One response, then a failure: the error chunk ends the 200 stream.
        watch(reqs) {
          return (async function* () {
            for await (const _ of reqs) {
              yield { watchId: 1n, created: true };
              throw Errors.compacted();
            }
          })();
        },
      },
    },
    metrics: registry,
  });
  try {
    const snap = await curl("-X", "POST", `${server.url}/v3/maintenance/snapshot`);
    const parts = snap.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(parts.length, 2);
    assert.equal(parts[0].result.remaining_bytes, "14");
    assert.equal(atob(parts[1].result.blob), "snapshot-bytes");

    const obs = await curl(
      "-w",
      "\n%{http_code}",
      "-d",
      `{"name":"${b64("e")}"}`,
      `${server.url}/v3/election/observe`,
    );
    const [obsBody, obsStatus] = obs.split("\n");
    assert.equal(obsStatus, "503");
    assert.deepEqual(JSON.parse(obsBody), {
      error: {
        grpc_code: 14,
        http_code: 503,
        message: Errors.noLeader.message,
        http_status: "Service Unavailable",
      },
    });

    const w = await curl(
      "-w",
      "\n%{http_code}",
      "-d",
      `{"create_request":{"key":"${b64("k")}"}}`,
      `${server.url}/v3/watch`,
    );
    const lines = w.split("\n");
    assert.equal(lines.at(-1), "200");
    assert.deepEqual(JSON.parse(lines[0]), { result: { watch_id: "1", created: true } });
    assert.deepEqual(JSON.parse(lines[1]), {
      error: {
        grpc_code: 11,
        http_code: 400,
        message: Errors.compacted.message,
        http_status: "Bad Request",
      },
    });

    const locked = await curl("-w", "\n%{http_code}", "-d", "{}", `${server.url}/v3/lock/lock`);
    assert.equal(locked.split("\n")[1], "501");

    const text = registry.render();
    assert.match(
      text,
      /grpc_server_msg_received_total\{grpc_type="bidi_stream",grpc_service="etcdserverpb.Watch",grpc_method="Watch"\} 1/,
    );
    assert.match(
      text,
      /grpc_server_msg_sent_total\{grpc_type="server_stream",grpc_service="etcdserverpb.Maintenance",grpc_method="Snapshot"\} 2/,
    );
    assert.match(
      text,
      /grpc_server_handled_total\{grpc_type="bidi_stream",grpc_service="etcdserverpb.Watch",grpc_method="Watch",grpc_code="OutOfRange"\} 1/,
    );
    assert.match(
      text,
      /grpc_server_handled_total\{grpc_type="server_stream",grpc_service="v3electionpb.Election",grpc_method="Observe",grpc_code="Unavailable"\} 1/,
    );
  } finally {
    await server.close();
  }
});
