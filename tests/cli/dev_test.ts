/**
 * `concord dev`: three real member processes from one command, usable with the real etcdctl,
 * each log line prefixed with its member's name, all stopped by one Ctrl-C (SIGINT) with exit
 * code 0; a second start on the same data dir keeps the data, and `--wipe` clears it.
 */
import assert from "node:assert/strict";
import { devMembers, parseDevFlags } from "../../lib/cli/dev.ts";
import { etcdctl } from "../cluster/processes.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** A base port with the 6 ports after it free (three members, client and peer each). */
function freeBlock(): number {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 40000);
    const held: Deno.Listener[] = [];
    try {
      for (let p = base; p < base + 6; p++) {
        held.push(Deno.listen({ hostname: "127.0.0.1", port: p }));
      }
      return base;
    } catch {
      // taken: try another block
    } finally {
      for (const l of held) l.close();
    }
  }
  throw new Error("no block of 6 free ports");
}

/** Starts `concord dev`, waits until every member answers etcdctl, and returns a stopper. */
async function startDev(dir: string, base: number, extra: string[] = []) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "dev", "--data-dir", dir, "--base-port", String(base), ...extra],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = new Response(child.stdout).text();
  const err = new Response(child.stderr).text();
  const endpoints = devMembers(parseDevFlags(["--base-port", String(base)]))
    .map((m) => m.clientUrl).join(",");
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await etcdctl(endpoints, "endpoint", "health");
    if (r.code === 0) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await child.status;
      throw new Error(`dev cluster not healthy: ${await out}${await err}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    endpoints,
    async stop(): Promise<{ code: number; out: string }> {
      child.kill("SIGINT");
      const s = await child.status;
      return { code: s.code, out: (await out) + (await err) };
    },
  };
}

Deno.test("concord dev: a 3-member cluster in one command, stopped by Ctrl-C", async () => {
  const dir = await Deno.makeTempDir({ prefix: "concord-dev-" });
  try {
    const base = freeBlock();
    let dev = await startDev(dir, base);
    const list = await etcdctl(dev.endpoints, "member", "list");
    for (const name of ["m1", "m2", "m3"]) {
      assert.match(list.stdout, new RegExp(`, started, ${name}, `));
    }
    assert.equal((await etcdctl(dev.endpoints, "put", "k", "v")).code, 0);
    let stopped = await dev.stop();
    assert.equal(stopped.code, 0, stopped.out);
    assert.match(
      stopped.out,
      /etcdctl --endpoints=127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+/,
    );
    for (const name of ["m1", "m2", "m3"]) {
      assert.match(stopped.out, new RegExp(`^${name} \\| .*ready to serve`, "m"));
    }

    // started again on the same dir: the data is still there
    dev = await startDev(dir, base);
    const got = await etcdctl(dev.endpoints, "get", "k", "--print-value-only");
    assert.equal(got.stdout, "v\n");
    stopped = await dev.stop();
    assert.equal(stopped.code, 0, stopped.out);

    // --wipe starts afresh
    dev = await startDev(dir, base, ["--wipe"]);
    const none = await etcdctl(dev.endpoints, "get", "k", "--print-value-only");
    assert.equal(none.stdout, "");
    stopped = await dev.stop();
    assert.equal(stopped.code, 0, stopped.out);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("concord dev: etcd's Procfile ports by default; bad flags refused", () => {
  const ms = devMembers(parseDevFlags([]));
  assert.deepEqual(ms.map((m) => [m.clientUrl, m.peerUrl]), [
    ["http://127.0.0.1:2379", "http://127.0.0.1:12380"],
    ["http://127.0.0.1:22379", "http://127.0.0.1:22380"],
    ["http://127.0.0.1:32379", "http://127.0.0.1:32380"],
  ]);
  assert.equal(devMembers(parseDevFlags(["--members=5"])).length, 5);
  assert.throws(() => parseDevFlags(["--members", "2"]), /1, 3, 5 or 7/);
  assert.throws(() => parseDevFlags(["--bogus"]), /unknown flag --bogus/);
});
