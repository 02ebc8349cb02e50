/**
 * A raised NOSPACE alarm outlives the process, as etcd's (kept in the backend's "alarm"
 * bucket, and in the WAL until the backend commits): after a clean stop and after kill -9 the
 * restarted `concord serve` still lists it and still refuses writes with etcd's "database
 * space exceeded", until the space is freed and the alarm disarmed, which also lasts.
 */
import assert from "node:assert/strict";
import { etcdctl, type ServeChild, spawnServe } from "./harness.ts";

const NOSPACE = "etcdserver: mvcc: database space exceeded";
const QUOTA = 256 * 1024;
/** The value the test fills the quota with. */
const BIG = "x".repeat(32 * 1024);

type Child = ServeChild;

/** `concord serve` on `dir` with a tiny quota; resolves once it serves clients. */
function serve(dir: string, extra: string[] = []): Promise<Child> {
  return spawnServe([
    "--name",
    "a",
    "--data-dir",
    dir,
    "--quota-backend-bytes",
    String(QUOTA),
    ...extra,
  ]);
}

async function stop(c: Child): Promise<void> {
  c.proc.kill("SIGTERM");
  assert.equal((await c.proc.status).code, 0);
  assert.match(await c.stderr, /"msg":"closed etcd server"/);
}

async function kill9(c: Child): Promise<void> {
  c.proc.kill("SIGKILL");
  await c.proc.status;
  await c.stderr;
}

async function ctl(url: string, args: string[]): Promise<string> {
  const r = await etcdctl(url, args);
  assert.equal(r.code, 0, `etcdctl ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/**
 * A put of the fill's size must fail: with the alarm raised it is refused outright, and with
 * it disarmed it still cannot fit (the file may stop anywhere within one fill value of the
 * quota, so a small put could fit and the alarm would not be raised again).
 */
async function putFails(url: string, key: string): Promise<void> {
  const r = await etcdctl(url, ["put", key, BIG]);
  assert.notEqual(r.code, 0, `put ${key} succeeded`);
  assert.match(r.stderr, new RegExp(NOSPACE));
}

Deno.test("alarms: NOSPACE survives a clean stop and kill -9, until freed and disarmed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "concord-alarm-" });
  let c: Child | undefined;
  try {
    c = await serve(dir);
    // the id as text: it does not fit a JSON number
    const status = await ctl(c.url, ["endpoint", "status", "-w", "json"]);
    const id = /"member_id":(\d+)/.exec(status)![1];
    const raised = `memberID:${id} alarm:NOSPACE \n`;
    let n = 0;
    for (;;) {
      const r = await etcdctl(c.url, ["put", `big${n}`, BIG]);
      if (r.code !== 0) {
        assert.match(r.stderr, new RegExp(NOSPACE));
        break;
      }
      n++;
      assert.ok(n < 100, "the quota never tripped");
    }
    assert.ok(n > 0);
    assert.equal(await ctl(c.url, ["alarm", "list"]), raised);

    // a clean stop: the alarm is in the committed backend
    await stop(c);
    c = await serve(dir);
    assert.equal(await ctl(c.url, ["alarm", "list"]), raised);
    await putFails(c.url, "after-stop");
    assert.equal(await ctl(c.url, ["get", "big0", "--keys-only"]), "big0\n\n");
    await stop(c);

    // the backend commits only when stopped: an alarm raised now lives only in the WAL
    c = await serve(dir, ["--backend-batch-interval", "1h"]);
    assert.equal(await ctl(c.url, ["alarm", "disarm"]), raised);
    assert.equal(await ctl(c.url, ["alarm", "list"]), "");
    await putFails(c.url, "raises-again"); // still over quota: the write raises it again
    assert.equal(await ctl(c.url, ["alarm", "list"]), raised);
    await kill9(c);
    c = await serve(dir);
    assert.equal(await ctl(c.url, ["alarm", "list"]), raised, "replayed from the WAL");
    await putFails(c.url, "after-kill");

    // free the space, then disarm: writes resume, and stay allowed across a kill -9
    assert.equal(await ctl(c.url, ["del", "big", "--prefix"]), `${n}\n`);
    const rev = JSON.parse(await ctl(c.url, ["get", "big0", "-w", "json"])).header.revision;
    await ctl(c.url, ["compaction", String(rev), "--physical"]);
    await ctl(c.url, ["defrag"]);
    await putFails(c.url, "still-armed"); // freed, but the alarm holds until disarmed
    assert.equal(await ctl(c.url, ["alarm", "disarm"]), raised);
    assert.equal(await ctl(c.url, ["put", "small", "v"]), "OK\n");
    await kill9(c);
    c = await serve(dir);
    assert.equal(await ctl(c.url, ["alarm", "list"]), "");
    assert.equal(await ctl(c.url, ["get", "small", "--print-value-only"]), "v\n");
    assert.equal(await ctl(c.url, ["put", "small2", "v"]), "OK\n");
    await stop(c);
    c = undefined;
  } finally {
    if (c !== undefined) await kill9(c);
    await Deno.remove(dir, { recursive: true });
  }
});
