/**
 * CONCORD_FAILPOINTS on a real `concord serve` process: a term it cannot run stops it at start
 * with exit code 1 and the reason; `defragOpenFileError=1*return(...)` fails one defrag with
 * that text while the member keeps serving and loses nothing; `panic` kills the process at the
 * point (SIGKILL, as kill -9), and the member restarted without points has every key that was
 * acknowledged.
 */
import assert from "node:assert/strict";
import { freePort } from "../support/etcd.ts";
import { waitFor } from "../server/harness.ts";
import { Client } from "../../lib/client/client.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const dec = new TextDecoder();

function serve(dir: string, url: string, failpoints?: string): Deno.ChildProcess {
  const env: Record<string, string> = failpoints === undefined
    ? {}
    : { CONCORD_FAILPOINTS: failpoints };
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
    try {
      proc.kill("SIGKILL");
    } catch {
      // exited
    }
    await proc.status;
    await proc.stderr.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
