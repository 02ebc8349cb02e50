/**
 * /livez and /readyz as etcd 3.6 answers them: plain "ok", `?verbose` listing the checks,
 * `?exclude=`, one check by sub-path, 503 naming the failing check. On a member of a cluster
 * whose peers are down (no leader) /readyz fails on linearizable_read while /livez passes.
 * Each check run shows in etcd 3.5.11's etcd_server_healthcheck{type,name} (last result) and
 * etcd_server_healthchecks_total{type,name,status}; /health in etcd_server_health_*.
 */
import assert from "node:assert/strict";
import { startServer } from "../../lib/api/member_server.ts";
import { createApiHandler } from "../../lib/api/handler.ts";
import { freePort } from "../support/etcd.ts";
import { testConfig } from "../server/harness.ts";
import type { UniversalServerRequest } from "@connectrpc/connect/protocol";
import { parseFamilies, sample } from "./prom_text.ts";

async function get(url: string): Promise<[number, string]> {
  const r = await fetch(url);
  return [r.status, await r.text()];
}

/** etcd 3.5.11's series of one probe check: the last result and the runs by status. */
function checkSeries(text: string, type: string, name: string) {
  const l = `type="${type}",name="${name}"`;
  return {
    last: sample(text, `etcd_server_healthcheck{${l}}`),
    success: sample(text, `etcd_server_healthchecks_total{${l},status="success"}`),
    error: sample(text, `etcd_server_healthchecks_total{${l},status="error"}`),
  };
}

Deno.test("probes: a serving member is live and ready; verbose, exclude and sub-paths", async () => {
  const dir = await Deno.makeTempDir({ prefix: "concord-probes-" });
  const server = await startServer(testConfig(dir), { log: () => {} });
  try {
    await server.member.ready;
    const u = server.clientUrls[0];
    assert.deepEqual(await get(`${u}/livez`), [200, "ok\n"]);
    assert.deepEqual(await get(`${u}/readyz`), [200, "ok\n"]);
    assert.deepEqual(await get(`${u}/livez?verbose`), [200, "[+]serializable_read ok\nok\n"]);
    assert.deepEqual(await get(`${u}/readyz?verbose`), [
      200,
      "[+]data_corruption ok\n[+]serializable_read ok\n[+]linearizable_read ok\n" +
      "[+]non_learner ok\nok\n",
    ]);
    assert.deepEqual(
      await get(`${u}/readyz?verbose&exclude=linearizable_read&exclude=no_such_check`),
      [200, "[+]data_corruption ok\n[+]serializable_read ok\n[+]non_learner ok\nok\n"],
    );
    assert.deepEqual(await get(`${u}/readyz/non_learner?verbose`), [
      200,
      "[+]non_learner ok\nok\n",
    ]);
    assert.equal((await get(`${u}/readyz/no_such_check`))[0], 404);
    const post = await fetch(`${u}/livez`, { method: "POST" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET");
    await post.body?.cancel();

    // every check run counted once (excluded, unknown and refused requests run none)
    const text = await (await fetch(`${u}/metrics`)).text();
    const ok = (n: number) => ({ last: 1, success: n, error: undefined });
    assert.deepEqual(checkSeries(text, "livez", "serializable_read"), ok(2));
    assert.deepEqual(checkSeries(text, "readyz", "data_corruption"), ok(3));
    assert.deepEqual(checkSeries(text, "readyz", "serializable_read"), ok(3));
    assert.deepEqual(checkSeries(text, "readyz", "linearizable_read"), ok(2));
    assert.deepEqual(checkSeries(text, "readyz", "non_learner"), ok(4));
    const families = parseFamilies(text);
    const gauge = families.get("etcd_server_healthcheck");
    assert.deepEqual(
      [gauge?.type, gauge?.help, gauge?.labels],
      ["gauge", "The result of each kind of healthcheck.", ["name", "type"]],
    );
    const counter = families.get("etcd_server_healthchecks_total");
    assert.deepEqual(
      [counter?.type, counter?.help, counter?.labels],
      ["counter", "The total number of each kind of healthcheck.", ["name", "status", "type"]],
    );
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("probes: without a leader /readyz is 503 naming linearizable_read; /livez stays ok", async () => {
  const dir = await Deno.makeTempDir({ prefix: "concord-probes-" });
  const peer = (n: number) => `http://127.0.0.1:${n}`;
  const [p1, p2, p3] = [freePort(), freePort(), freePort()];
  const server = await startServer(
    testConfig(dir, (c) => {
      c.name = "a";
      c.listenPeerUrls = [new URL(peer(p1))];
      c.initialAdvertisePeerUrls = [new URL(peer(p1))];
      c.initialCluster = new Map([
        ["a", [new URL(peer(p1))]],
        ["b", [new URL(peer(p2))]],
        ["c", [new URL(peer(p3))]],
      ]);
    }),
    { log: () => {} },
  );
  try {
    const u = server.clientUrls[0];
    assert.deepEqual(await get(`${u}/livez`), [200, "ok\n"]);
    const [status, body] = await get(`${u}/readyz`);
    assert.equal(status, 503);
    assert.match(body, /^\[\+\]data_corruption ok\n\[\+\]serializable_read ok\n/);
    assert.match(body, /\n\[-\]linearizable_read failed: etcdserver: no leader\n/);
    assert.deepEqual(await get(`${u}/readyz?exclude=linearizable_read`), [200, "ok\n"]);
    assert.equal((await get(`${u}/health`))[0], 503);

    // the failed check's last result is 0; /health's failure is etcd 3.4's counter
    const text = await (await fetch(`${u}/metrics`)).text();
    assert.deepEqual(checkSeries(text, "readyz", "linearizable_read"), {
      last: 0,
      success: undefined,
      error: 1,
    });
    assert.deepEqual(checkSeries(text, "readyz", "serializable_read"), {
      last: 1,
      success: 2,
      error: undefined,
    });
    assert.equal(sample(text, "etcd_server_health_failures"), 1);
    assert.equal(sample(text, "etcd_server_health_success"), 0);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("probes: a failing check's message is the reason; no probes configured is 404", async () => {
  const handler = createApiHandler({
    services: {},
    probes: {
      livez: [{ name: "wedged", run: () => Promise.reject(new Error("event loop stuck")) }],
      readyz: [],
    },
  });
  const req = (path: string): UniversalServerRequest => ({
    httpVersion: "1.1",
    method: "GET",
    url: `http://localhost${path}`,
    header: new Headers(),
    body: (async function* () {})(),
    signal: new AbortController().signal,
  });
  const res = await handler(req("/livez"));
  assert.equal(res.status, 503);
  const chunks: Uint8Array[] = [];
  for await (const c of res.body as AsyncIterable<Uint8Array>) chunks.push(c);
  assert.equal(new TextDecoder().decode(chunks[0]), "[-]wedged failed: event loop stuck\n\n");
  const none = await createApiHandler({ services: {} })(req("/readyz"));
  assert.equal(none.status, 404);
  for await (const _ of none.body as AsyncIterable<Uint8Array>) { /* drain */ }
});
