/**
 * gofail's HTTP endpoint in one process (the process test is serve_failpoints_test.ts): the
 * variables give no points when unset and points with none armed when only the endpoint is
 * asked for; the address forms it takes; and each of gofail's paths, methods and status codes
 * on the handler over the member's real points, down to what a hit then does.
 */
import assert from "node:assert/strict";
import { FailpointSpecError, TermFaultPoints } from "../../lib/base/failpoint_terms.ts";
import { delayAt, FaultPointError } from "../../lib/base/fault_points.ts";
import { failpointsFromEnv } from "../../lib/cli/serve_failpoints.ts";
import {
  type FailpointsHttpChange,
  failpointsHttpHandler,
  parseFailpointsHttpAddr,
  serveFailpointsHttp,
} from "../../lib/cli/serve_failpoints_http.ts";

const hooks = { fired: () => {} };

Deno.test("failpoints from env: none without either variable; the endpoint alone arms nothing", () => {
  assert.equal(failpointsFromEnv({}, hooks), undefined);
  assert.equal(
    failpointsFromEnv({ CONCORD_FAILPOINTS: " ", CONCORD_FAILPOINTS_HTTP: "" }, hooks),
    undefined,
  );
  const http = failpointsFromEnv({ CONCORD_FAILPOINTS_HTTP: "127.0.0.1:22381" }, hooks)!;
  assert.deepEqual(http.http, { hostname: "127.0.0.1", port: 22381 });
  assert.equal(http.armed, "");
  assert.equal(http.faults.status("raftBeforeSave"), undefined);
  const both = failpointsFromEnv({
    CONCORD_FAILPOINTS: 'defragOpenFileError=1*return("x")',
    CONCORD_FAILPOINTS_HTTP: ":0",
  }, hooks)!;
  assert.equal(both.armed, 'defragOpenFileError=1*return("x")');
  assert.deepEqual(both.faults.status("defragOpenFileError"), {
    desc: '1*return("x")',
    count: 0,
  });
  assert.throws(
    () => failpointsFromEnv({ CONCORD_FAILPOINTS_HTTP: "127.0.0.1" }, hooks),
    (e: unknown) =>
      e instanceof FailpointSpecError && /^CONCORD_FAILPOINTS_HTTP: "127.0.0.1"/.test(e.message),
  );
  assert.throws(
    () => failpointsFromEnv({ CONCORD_FAILPOINTS: "nope=panic" }, hooks),
    /^FailpointSpecError: CONCORD_FAILPOINTS: no fault point "nope"/,
  );
});

Deno.test("failpoints HTTP address: host:port, :port on 127.0.0.1, [v6]:port; nothing else", () => {
  assert.deepEqual(parseFailpointsHttpAddr("127.0.0.1:1234"), {
    hostname: "127.0.0.1",
    port: 1234,
  });
  assert.deepEqual(parseFailpointsHttpAddr(":0"), { hostname: "127.0.0.1", port: 0 });
  assert.deepEqual(parseFailpointsHttpAddr("[::1]:80"), { hostname: "::1", port: 80 });
  assert.deepEqual(parseFailpointsHttpAddr("0.0.0.0:9"), { hostname: "0.0.0.0", port: 9 });
  for (const bad of ["", "1234", "host:", "host:70000", "::1:80", "h:1:2", "host:12a"]) {
    assert.throws(() => parseFailpointsHttpAddr(bad), FailpointSpecError, bad);
  }
});

Deno.test("failpoints HTTP handler: gofail's paths, methods and codes over the member's points", async () => {
  const died: string[] = [];
  const points = new TermFaultPoints(new Map(), {
    die: (p) => {
      died.push(p);
      throw new Error(`died at ${p}`);
    },
  });
  const changes: FailpointsHttpChange[] = [];
  const handle = failpointsHttpHandler(points, (c) => changes.push(c));
  const call = async (method: string, path: string, body?: string) => {
    const r = await handle(new Request(`http://127.0.0.1:1${path}`, { method, body }));
    return { status: r.status, body: await r.text(), type: r.headers.get("content-type") };
  };

  // the listing: every point, sorted, unarmed ones empty
  const listing = await call("GET", "/");
  assert.equal(listing.status, 200);
  const lines = listing.body.split("\n");
  assert.equal(lines.pop(), "", "ends with a newline");
  assert.deepEqual(lines, [...lines].sort());
  assert.ok(lines.every((l) => l.endsWith("=")));

  // armed; a hit runs the terms; status and count
  assert.equal((await call("PUT", "/afterCommit", "2*off->panic")).status, 204);
  assert.deepEqual(await call("GET", "/afterCommit"), {
    status: 200,
    body: "2*off->panic\n",
    type: "text/plain; charset=utf-8",
  });
  points.hit("afterCommit");
  assert.equal((await call("GET", "/afterCommit/count")).body, "1");
  points.hit("afterCommit");
  assert.throws(() => points.hit("afterCommit"), /died at afterCommit/);
  assert.deepEqual(died, ["afterCommit"]);
  assert.equal((await call("GET", "/afterCommit/count")).body, "3");
  assert.match((await call("GET", "/")).body, /^afterCommit=2\*off->panic$/m);

  // a delay point and an error point, several at once
  const many = await call(
    "PUT",
    "/failpoints",
    'raftBeforeLeaderSend=1*sleep("20ms");defragOpenFileError=return("no")',
  );
  assert.equal(many.status, 204);
  assert.equal(delayAt(points, "raftBeforeLeaderSend"), 20);
  assert.equal(delayAt(points, "raftBeforeLeaderSend"), 0);
  assert.throws(() => points.hit("defragOpenFileError"), FaultPointError);

  // disarmed: the hit does nothing, status and count say so
  assert.deepEqual(await call("DELETE", "/defragOpenFileError"), {
    status: 204,
    body: "",
    type: null,
  });
  points.hit("defragOpenFileError");
  assert.deepEqual(await call("GET", "/defragOpenFileError"), {
    status: 404,
    body: "failed to GET: failpoint: failpoint is disabled\n\n",
    type: "text/plain; charset=utf-8",
  });
  assert.equal((await call("GET", "/defragOpenFileError/count")).status, 500);
  assert.equal((await call("DELETE", "/defragOpenFileError")).status, 400);

  // unknown names, bad terms (nothing armed by a refused PUT), other methods
  assert.deepEqual(await call("GET", "/nope"), {
    status: 404,
    body: "failed to GET: failpoint: failpoint does not exist\n\n",
    type: "text/plain; charset=utf-8",
  });
  assert.equal((await call("GET", "/nope/count")).status, 404);
  assert.equal((await call("PUT", "/nope", "panic")).status, 400);
  assert.equal((await call("DELETE", "/nope")).status, 400);
  const empty = await call("PUT", "/raftBeforeSave", "");
  assert.equal(empty.status, 400);
  assert.match(empty.body, /^fail to set failpoint: raftBeforeSave: cannot parse term ""/);
  const pct = await call("PUT", "/raftBeforeSave", "50%panic");
  assert.equal(pct.status, 400);
  const half = await call("PUT", "/failpoints", "beforeCommit=panic;afterCommit=return(1)");
  assert.equal(half.status, 400);
  assert.equal(points.status("beforeCommit"), undefined, "all or none");
  assert.equal((await call("GET", "/raftBeforeSave")).status, 404);
  const post = await handle(new Request("http://127.0.0.1:1/afterCommit", { method: "POST" }));
  assert.deepEqual([post.status, post.headers.get("allow"), await post.text()], [
    405,
    "PUT",
    "Method not allowed\n",
  ]);
  // the query is part of the name, as Go's RequestURI is
  assert.equal((await call("GET", "/afterCommit?x=1")).status, 404);

  assert.deepEqual(changes, [
    { point: "afterCommit", terms: "2*off->panic" },
    { point: "raftBeforeLeaderSend", terms: '1*sleep("20ms")' },
    { point: "defragOpenFileError", terms: 'return("no")' },
    { point: "defragOpenFileError", terms: null },
  ]);
});

Deno.test("failpoints HTTP endpoint: listens on the port asked (0: a free one) until shut down", async () => {
  const points = new TermFaultPoints(new Map(), {
    die: (p) => {
      throw new Error(`died at ${p}`);
    },
  });
  const server = serveFailpointsHttp({ hostname: "127.0.0.1", port: 0 }, points);
  const base = `http://127.0.0.1:${server.addr.port}`;
  try {
    assert.notEqual(server.addr.port, 0);
    const put = await fetch(`${base}/beforeCommit`, { method: "PUT", body: "3*off" });
    await put.body?.cancel();
    assert.equal(put.status, 204);
    assert.deepEqual(points.status("beforeCommit"), { desc: "3*off", count: 0 });
    const r = await fetch(`${base}/beforeCommit`);
    assert.equal(await r.text(), "3*off\n");
  } finally {
    await server.shutdown();
  }
  await assert.rejects(fetch(`${base}/`), TypeError);
});
