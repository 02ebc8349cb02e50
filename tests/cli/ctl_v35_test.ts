/**
 * What etcdctl 3.5 added and 3.4 lacks (so there is no etcdctl here to compare with): get
 * --count-only, del --range, watch --progress-notify and auth status, with 3.5's outputs and
 * messages (etcdctl/ctlv3/command of v3.5.9), on a Concord member.
 */
import assert from "node:assert/strict";
import { startTestServer } from "../server/harness.ts";
import { runConcordCtl } from "./ctl_compat.ts";

Deno.test("etcdctl 3.5's additions", async () => {
  const s = await startTestServer();
  try {
    const ctl = (...args: string[]) => runConcordCtl(s.url, args);
    assert.equal((await ctl("put", "a1", "x")).code, 0);
    assert.equal((await ctl("put", "a2", "y")).code, 0);

    let r = await ctl("get", "a", "--prefix", "--count-only", "-w", "fields");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /"More" : false\n"Count" : 2\n$/);
    assert.doesNotMatch(r.stdout, /"Key"/);
    r = await ctl("get", "a", "--prefix", "--count-only");
    assert.deepEqual([r.code, r.stderr], [
      128,
      "Error: --count-only is only for `--write-out=fields`\n",
    ]);
    r = await ctl("get", "a", "--keys-only", "--count-only", "-w", "fields");
    assert.deepEqual(
      [r.code, r.stderr],
      [128, "Error: `--keys-only` and `--count-only` cannot be set at the same time, choose one\n"],
    );

    r = await ctl("del", "a1", "a3", "--range");
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, "2\n", ""]);

    r = await ctl("auth", "status");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Authentication Status: false\nAuthRevision: \d+\n$/);
    r = await ctl("auth", "status", "-w", "json");
    assert.match(r.stdout, /^\{"header":\{.*\},"authRevision":\d+\}\n$/);
    r = await ctl("auth", "status", "-w", "fields");
    assert.deepEqual([r.code, r.stderr], [4, "Error: fields not supported as output format\n"]);

    // a progress notification is printed as 3.5 prints it (the server sends them every few
    // minutes, so only the flag's acceptance and the events are checked here)
    const ac = new AbortController();
    let out = "";
    const run = runConcordCtl(s.url, ["watch", "a2", "--rev", "1", "--progress-notify"], {
      interrupt: ac.signal,
      onOut: (t) => out += t,
    });
    const end = Date.now() + 10_000;
    while (!out.includes("DELETE") && Date.now() < end) {
      await new Promise((res) => setTimeout(res, 20));
    }
    ac.abort();
    const w = await run;
    assert.equal(w.stdout, "PUT\na2\ny\nDELETE\na2\n\n");
    assert.equal(w.code, 130);
  } finally {
    await s.close();
  }
});
