/**
 * CONCORD_FAILPOINTS on a real `concord serve` process: a term it cannot run stops it at start
 * with exit code 1 and the reason; `defragOpenFileError=1*return(...)` fails one defrag with
 * that text while the member keeps serving and loses nothing; `panic` kills the process at the
 * point (SIGKILL, as kill -9), and the member restarted without points has every key that was
 * acknowledged. CONCORD_FAILPOINTS_HTTP opens gofail's HTTP endpoint on the running member: a
 * point armed there fires (a defrag fails, a put's apply kills the process) and disarmed does
 * not; the listing, the status, the count and the refusals are gofail's; without the variable
 * nothing listens.
 */
import assert from "node:assert/strict";
import { freePort } from "../support/etcd.ts";
import { waitFor } from "../server/harness.ts";
import { Client } from "../../lib/client/client.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const dec = new TextDecoder();

function serve(
  dir: string,
  url: string,
  failpoints?: string,
  more: Record<string, string> = {},
): Deno.ChildProcess {
  const env: Record<string, string> = failpoints === undefined
    ? { ...more }
    : { CONCORD_FAILPOINTS: failpoints, ...more };
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "serve",
      `--data-dir=${dir}/data`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=http://127.0.0.1:${freePort()}`,
      "--log-level=warn",
    ],
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

async function healthy(url: string, proc: Deno.ChildProcess): Promise<void> {
  let exited = false;
  proc.status.then(() => exited = true);
  await waitFor("serve to answer /health", async () => {
    if (exited) throw new Error("serve exited before it was healthy");
    try {
      const r = await fetch(`${url}/health`);
      await r.body?.cancel();
      return r.status === 200;
    } catch {
      return false;
    }
  }, 20_000);
}

/** Kills a `concord serve` child (if it still runs), drains it, removes its data dir. */
async function endServe(proc: Deno.ChildProcess, dir: string): Promise<void> {
  try {
    proc.kill("SIGKILL");
  } catch {
    // exited
  }
  await proc.status;
  await proc.stderr.cancel().catch(() => {});
  await Deno.remove(dir, { recursive: true });
}

Deno.test("serve failpoints: a term it cannot run stops serve at start with exit code 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "concord-failpoints-" });
  try {
    const url = `http://127.0.0.1:${freePort()}`;
    const out = await serve(dir, url, "raftBeforeSave=sleep(100)").output();
    assert.equal(out.code, 1);
    assert.match(
      dec.decode(out.stderr),
      /concord serve: CONCORD_FAILPOINTS: raftBeforeSave: sleep is supported only at/,
    );
    const unknown = await serve(dir, url, "raftBeforeSaved=panic").output();
    assert.equal(unknown.code, 1);
    assert.match(dec.decode(unknown.stderr), /no fault point "raftBeforeSaved"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve failpoints: a defrag failing at defragOpenFileError loses nothing; panic kills at the point", async () => {
  const dir = await Deno.makeTempDir({ prefix: "concord-failpoints-" });
  const url = `http://127.0.0.1:${freePort()}`;
  let proc = serve(dir, url, 'defragOpenFileError=1*return("disk says no")');
  let client: Client | undefined;
  try {
    const logs = new Response(proc.stderr).text();
    await healthy(url, proc);
    client = new Client({ endpoints: [url] });
    for (let i = 0; i < 20; i++) await client.put(`k${i}`, `v${i}`);
    await client.kv.delete("k0");
    await assert.rejects(client.maintenance.defragment(), /disk says no/);
    // serving on: writes, reads, and the next defrag (the term's count is used up)
    for (let i = 20; i < 30; i++) await client.put(`k${i}`, `v${i}`);
    await client.maintenance.defragment();
    const all = await client.kv.range("k", { prefix: true });
    assert.equal(all.kvs.length, 29);
    assert.equal(dec.decode(all.kvs.find((kv) => dec.decode(kv.key) === "k7")!.value), "v7");
    await client.close();
    client = undefined;
    proc.kill("SIGTERM");
    assert.equal((await proc.status).code, 0);
    assert.match(await logs, /"failpoint fired".*"point":"defragOpenFileError"/);

    // the next incarnation dies at the first entry it applies (a put): killed, nothing after
    // the point runs, and the put has no answer
    proc = serve(dir, url, "beforeApplyOneEntryNormal=panic");
    const died = proc.output();
    await healthy(url, proc);
    client = new Client({ endpoints: [url], memberDownMs: 100 });
    await assert.rejects(client.put("k99", "lost?", { timeoutMs: 3000 }));
    await client.close();
    client = undefined;
    const end = await died;
    assert.equal(end.signal, "SIGKILL", dec.decode(end.stderr));
    assert.match(dec.decode(end.stderr), /panic: failpoint panic: beforeApplyOneEntryNormal/);

    proc = serve(dir, url);
    await healthy(url, proc);
    client = new Client({ endpoints: [url] });
    const after = await client.kv.range("k", { prefix: true });
    // k99 was saved to the WAL before the apply that died: a lone member applies it on restart
    assert.equal(after.kvs.length, 30);
    assert.equal(dec.decode((await client.get("k99"))!.value), "lost?");
    assert.equal(await client.get("k0"), undefined);
  } finally {
    await client?.close();
    await endServe(proc, dir);
  }
});

/** One request to the failpoint endpoint: status, body and Allow header. */
async function gofail(
  base: string,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; body: string; allow: string | null }> {
  const r = await fetch(`${base}${path}`, { method, body });
  return { status: r.status, body: await r.text(), allow: r.headers.get("allow") };
}

Deno.test("serve failpoints over HTTP: armed, listed, fired and disarmed on a running member", async () => {
  const dir = await Deno.makeTempDir({ prefix: "concord-failpoints-http-" });
  const url = `http://127.0.0.1:${freePort()}`;
  const fpPort = freePort();
  const fp = `http://127.0.0.1:${fpPort}`;
  let proc = serve(dir, url, undefined, { CONCORD_FAILPOINTS_HTTP: `127.0.0.1:${fpPort}` });
  let client: Client | undefined;
  try {
    const logs = new Response(proc.stderr).text();
    await healthy(url, proc);
    client = new Client({ endpoints: [url] });
    for (let i = 0; i < 10; i++) await client.put(`k${i}`, `v${i}`);

    // every point the build has, none armed
    const list = await gofail(fp, "GET", "/");
    assert.equal(list.status, 200);
    const lines = list.body.trimEnd().split("\n");
    assert.ok(lines.includes("raftBeforeSave="), list.body);
    assert.ok(lines.includes("defragOpenFileError="), list.body);
    assert.deepEqual(lines, [...lines].sort());
    assert.equal((await gofail(fp, "GET", "/defragOpenFileError")).status, 404);

    // armed while running: the next defrag fails with the term's text, and the count says so
    const put = await gofail(fp, "PUT", "/defragOpenFileError", 'return("disk says no")');
    assert.deepEqual([put.status, put.body], [204, ""]);
    assert.deepEqual(await gofail(fp, "GET", "/defragOpenFileError"), {
      status: 200,
      body: 'return("disk says no")\n',
      allow: null,
    });
    assert.match(
      (await gofail(fp, "GET", "/")).body,
      /^defragOpenFileError=return\("disk says no"\)$/m,
    );
    await assert.rejects(client.maintenance.defragment(), /disk says no/);
    await assert.rejects(client.maintenance.defragment(), /disk says no/);
    assert.equal((await gofail(fp, "GET", "/defragOpenFileError/count")).body, "2");
    // disarmed: the defrag succeeds, and the point is gone from status
    assert.equal((await gofail(fp, "DELETE", "/defragOpenFileError")).status, 204);
    await client.maintenance.defragment();
    assert.equal((await gofail(fp, "GET", "/defragOpenFileError")).status, 404);
    assert.equal((await gofail(fp, "GET", "/defragOpenFileError/count")).status, 500);
    const again = await gofail(fp, "DELETE", "/defragOpenFileError");
    assert.deepEqual([again.status, again.body], [
      400,
      "failed to delete failpoint failpoint: failpoint is disabled\n",
    ]);

    // refused as CONCORD_FAILPOINTS refuses: bad terms, an unknown point; nothing armed
    const bad = await gofail(fp, "PUT", "/raftBeforeSave", "sleep(100)");
    assert.equal(bad.status, 400);
    assert.match(bad.body, /^fail to set failpoint: raftBeforeSave: sleep is supported only at/);
    const unknown = await gofail(fp, "PUT", "/raftBeforeSaved", "panic");
    assert.deepEqual([unknown.status, unknown.body], [
      400,
      "fail to set failpoint: failpoint: failpoint does not exist\n",
    ]);
    assert.equal((await gofail(fp, "GET", "/raftBeforeSaved")).status, 404);
    assert.equal((await gofail(fp, "DELETE", "/raftBeforeSaved")).status, 400);
    const many = await gofail(
      fp,
      "PUT",
      "/failpoints",
      "afterCommit=1000*off;raftBeforeSave=print",
    );
    assert.equal(many.status, 400);
    assert.match(many.body, /^fail to parse failpoint: raftBeforeSave: action "print"/);
    assert.equal((await gofail(fp, "GET", "/afterCommit")).status, 404, "all or none armed");
    const patch = await gofail(fp, "PATCH", "/afterCommit", "panic");
    assert.deepEqual([patch.status, patch.allow], [405, "PUT"]);
    assert.doesNotMatch((await gofail(fp, "GET", "/")).body, /=[^\n]/, "nothing armed");

    // several at once; then a crash point armed at run time kills the process at its point
    assert.equal(
      (await gofail(
        fp,
        "PUT",
        "/failpoints",
        "afterCommit=1000000*off;beforeApplyOneEntryNormal=panic",
      ))
        .status,
      204,
    );
    await assert.rejects(client.put("k99", "lost?", { timeoutMs: 3000 }));
    assert.equal((await proc.status).signal, "SIGKILL");
    const text = await logs;
    assert.match(text, /panic: failpoint panic: beforeApplyOneEntryNormal/);
    assert.match(text, /"failpoint armed".*"point":"defragOpenFileError"/);
    assert.match(text, /"failpoint disarmed".*"point":"defragOpenFileError"/);
    await client.close();
    client = undefined;

    // without the variable nothing listens; the member has every acknowledged key
    proc = serve(dir, url);
    await healthy(url, proc);
    await assert.rejects(fetch(`${fp}/`), TypeError);
    client = new Client({ endpoints: [url] });
    assert.equal((await client.kv.range("k", { prefix: true })).kvs.length, 11);
  } finally {
    await client?.close();
    await endServe(proc, dir);
  }
});

Deno.test("serve failpoints over HTTP: an address it cannot use stops serve at start", async () => {
  const dir = await Deno.makeTempDir({ prefix: "concord-failpoints-http-" });
  try {
    const url = `http://127.0.0.1:${freePort()}`;
    const out = await serve(dir, url, undefined, { CONCORD_FAILPOINTS_HTTP: "localhost" }).output();
    assert.equal(out.code, 1);
    assert.match(
      dec.decode(out.stderr),
      /concord serve: CONCORD_FAILPOINTS_HTTP: "localhost": expected host:port/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
