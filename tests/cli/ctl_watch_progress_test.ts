/**
 * `concord ctl watch -i` accepts `progress` as etcdctl 3.5's interactive watch does: every
 * watch opened so far prints `progress notify: <revision>` (the store's revision), against a
 * Concord member and against Debian's etcd 3.4 (which answers WatchProgressRequest since 3.4).
 */
import assert from "node:assert/strict";
import { startTestServer } from "../server/harness.ts";
import { startEtcd } from "../support/etcd.ts";
import { runConcordCtl } from "./ctl_compat.ts";

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function progressSession(url: string): Promise<void> {
  const put = async (k: string, v: string): Promise<number> => {
    const r = await runConcordCtl(url, ["put", k, v, "-w", "json"]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout).header.revision;
  };
  const enc = new TextEncoder();
  let input!: ReadableStreamDefaultController<Uint8Array>;
  const stdinStream = new ReadableStream<Uint8Array>({ start: (c) => void (input = c) });
  const send = (line: string) => input.enqueue(enc.encode(`${line}\n`));
  const ac = new AbortController();
  let out = "";
  const run = runConcordCtl(url, ["watch", "-i"], {
    stdinStream,
    interrupt: ac.signal,
    onOut: (t) => out += t,
  });
  try {
    send("watch a --rev 1"); // from revision 1: no event is missed before it opens
    let rev = 0;
    rev = await put("a", "1");
    await until("the event", () => out.includes("PUT\na\n1\n"));
    rev = await put("other", "x");
    send("progress");
    await until("the progress notification", () => out.includes(`progress notify: ${rev}\n`));
    send("watch b --prefix --rev 1");
    rev = await put("b1", "y");
    await until("the second watch's event", () => out.includes("PUT\nb1\ny\n"));
    const before = out.length;
    send("bogus"); // refused on stderr; lines are handled in order, so before the progress
    send("progress");
    await until(
      "a notification on both watches",
      () => out.slice(before).split(`progress notify: ${rev}\n`).length === 3,
    );
  } finally {
    ac.abort();
    input.close();
  }
  const r = await run;
  assert.equal(r.code, 130, r.stderr);
  assert.doesNotMatch(r.stderr, /not supported/);
  assert.match(r.stderr, /Invalid command bogus \(only support watch\)/);
}

Deno.test("ctl watch -i: progress on a Concord member and on etcd 3.4", async () => {
  const s = await startTestServer();
  const e = await startEtcd();
  try {
    const results = await Promise.allSettled([progressSession(s.url), progressSession(e.url)]);
    results.forEach((r, i) => {
      if (r.status === "rejected") {
        const err = r.reason as Error;
        err.message = `[${i === 0 ? "concord" : "etcd 3.4"}] ${err.message}`;
        throw err;
      }
    });
  } finally {
    await s.close();
    await e.stop();
  }
});
