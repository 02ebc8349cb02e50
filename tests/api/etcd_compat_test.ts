/**
 * The gateway's JSON against a real etcd 3.4 (Debian's `etcd`), call for call: both start
 * empty, get the same requests, and must answer the same bodies and statuses once the
 * per-cluster values (cluster and member ids, raft term, lease ids) are masked.
 */
import assert from "node:assert/strict";
import { FakeEtcd } from "./double.ts";
import { curl, startApi } from "./harness.ts";
import { startEtcd } from "../support/etcd.ts";

const b64 = (s: string) => btoa(s);

/** Masks values that differ between any two clusters. */
function mask(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(mask);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      out[k] = k === "cluster_id" || k === "member_id" || k === "raft_term" || k === "ID"
        ? "*"
        : mask(x);
    }
    return out;
  }
  return v;
}

async function call(
  base: string,
  path: string,
  body: string,
  maskMessage: boolean,
): Promise<[number, unknown]> {
  const out = await curl("-w", "\n%{http_code}", "-d", body, base + path);
  const i = out.lastIndexOf("\n");
  const json = JSON.parse(out.slice(0, i));
  // JSON decoding errors are worded by each side's JSON library; their code must still match.
  if (maskMessage && typeof json.error === "string") json.error = json.message = "*";
  return [Number(out.slice(i + 1)), mask(json)];
}

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

/** Opens a gateway watch on "w", writes "w" once, and returns the two result lines. */
async function watchOnce(base: string): Promise<unknown[]> {
  const child = new Deno.Command("curl", {
    args: [
      "-sS",
      "-N",
      "-d",
      `{"create_request":{"key":"${b64("w")}","prev_kv":true}}`,
      `${base}/v3/watch`,
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    const it = lines(child.stdout);
    const created = JSON.parse((await it.next()).value as string);
    await curl("-d", JSON.stringify({ key: b64("w"), value: b64("1") }), `${base}/v3/kv/put`);
    const event = JSON.parse((await it.next()).value as string);
    return [mask(created), mask(event)];
  } finally {
    child.kill();
    await child.status;
  }
}

/** Grants a lease and keeps it alive once over the gateway's stream. */
async function keepAliveOnce(base: string): Promise<unknown> {
  const grant = JSON.parse(await curl("-d", `{"TTL":60}`, `${base}/v3/lease/grant`));
  const out = await curl("-d", JSON.stringify({ ID: grant.ID }), `${base}/v3/lease/keepalive`);
  return out.trim().split("\n").map((l) => mask(JSON.parse(l)));
}

Deno.test("gateway JSON matches a real etcd 3.4 for put, range, txn, lease grant and errors", async () => {
  const etcd = await startEtcd();
  const fake = new FakeEtcd();
  const ours = await startApi({ services: fake.services() });
  try {
    const steps: [string, string][] = [
      ["/v3/kv/put", JSON.stringify({ key: b64("foo"), value: b64("bar") })],
      ["/v3/kv/put", JSON.stringify({ key: b64("foo"), value: b64("baz"), prev_kv: true })],
      ["/v3/kv/range", JSON.stringify({ key: b64("foo") })],
      ["/v3/kv/range", JSON.stringify({ key: b64("a"), range_end: b64("z"), keys_only: true })],
      ["/v3/kv/range", JSON.stringify({ key: b64("nothing") })],
      [
        "/v3/kv/txn",
        JSON.stringify({
          compare: [{ key: b64("foo"), target: "VALUE", value: b64("baz") }],
          success: [{ request_range: { key: b64("foo") } }],
          failure: [{ request_put: { key: b64("foo"), value: b64("x") } }],
        }),
      ],
      [
        "/v3/kv/txn",
        JSON.stringify({
          compare: [{ key: b64("foo"), target: "VERSION", result: "GREATER", version: "5" }],
          success: [],
          failure: [{ request_put: { key: b64("bar"), value: b64("y") } }],
        }),
      ],
      ["/v3/lease/grant", JSON.stringify({ TTL: 30 })],
      ["/v3/kv/put", JSON.stringify({ key: "", value: b64("x") })],
      ["/v3/kv/range", JSON.stringify({ key: b64("foo"), revision: 1000 })],
      ["/v3/lease/revoke", JSON.stringify({ ID: 5 })],
      ["/v3beta/kv/range", JSON.stringify({ key: b64("foo"), count_only: true })],
      // grpc-gateway decodes the first JSON value and ignores what follows.
      ["/v3/kv/range", `{"key":"${b64("foo")}"}{"key":"${b64("bar")}"} trailing`],
      ["/v3/kv/range", JSON.stringify({ key: b64("foo"), sort_order: "BOGUS" })],
    ];
    const wants: [number, unknown][] = [];
    for (const [path, body] of steps) {
      const want = await call(
        etcd.url,
        path,
        body,
        path.includes("kv/range") && body.includes("BOGUS"),
      );
      const got = await call(
        ours.url,
        path,
        body,
        path.includes("kv/range") && body.includes("BOGUS"),
      );
      assert.deepEqual(got, want, `${path} ${body}`);
      wants.push(want);
    }
    // Streams: a gateway watch (created, then one event) and a lease keepalive.
    const etcdWatch = await watchOnce(etcd.url);
    assert.deepEqual(await watchOnce(ours.url), etcdWatch);
    const event = etcdWatch[1] as { result: { events: { kv: { value: string } }[] } };
    assert.equal(event.result.events[0].kv.value, b64("1"));
    const etcdKeepAlive = await keepAliveOnce(etcd.url);
    assert.deepEqual(await keepAliveOnce(ours.url), etcdKeepAlive);
    assert.deepEqual(etcdKeepAlive, [{
      result: {
        header: { cluster_id: "*", member_id: "*", revision: "5", raft_term: "*" },
        ID: "*",
        TTL: "60",
      },
    }]);

    // The comparison is only as good as etcd's answers: check they are the real thing.
    assert.deepEqual(wants[2], [200, {
      header: { cluster_id: "*", member_id: "*", revision: "3", raft_term: "*" },
      kvs: [{
        key: b64("foo"),
        create_revision: "2",
        mod_revision: "3",
        version: "2",
        value: b64("baz"),
      }],
      count: "1",
    }]);
    assert.equal(wants[8][0], 400);
    assert.equal(wants[10][0], 404);
  } finally {
    await ours.close();
    await etcd.stop();
  }
});
