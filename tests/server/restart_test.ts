/**
 * `concord serve` as a child process: clean stop and restart, kill -9 and replay, and a
 * second server on the same data dir. Every acknowledged write must be there after restart
 * with its revision, and nothing may be applied twice.
 */
import assert from "node:assert/strict";
import { etcdctl, type ServeChild, spawnServe } from "./harness.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

type Child = ServeChild;

function serve(dir: string): Promise<Child> {
  return spawnServe([
    "--name",
    "r",
    "--data-dir",
    dir,
    // the backend commits only when stopped: after kill -9 every write since the last
    // start lives only in the WAL, so the replay is what brings it back
    "--backend-batch-interval",
    "1h",
  ]);
}

async function put(url: string, key: string, value: string): Promise<number> {
  const r = await etcdctl(url, ["put", key, value, "-w", "json"]);
  assert.equal(r.code, 0, r.stderr);
  return Number(/"revision":(\d+)/.exec(r.stdout)![1]);
}

async function get(url: string, key: string): Promise<{ value: string; modRevision: number }> {
  const r = await etcdctl(url, ["get", key, "-w", "json"]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  return { value: atob(j.kvs[0].value), modRevision: j.kvs[0].mod_revision };
}

async function headerRevision(url: string): Promise<number> {
  const r = await etcdctl(url, ["get", "nothing-here", "-w", "json"]);
  return Number(/"revision":(\d+)/.exec(r.stdout)![1]);
}

Deno.test("serve: clean stop and kill -9 both keep every acknowledged write, applied once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "concord-restart-" });
  const acked = new Map<string, { value: string; rev: number }>();
  try {
    let c = await serve(dir);
    for (let i = 0; i < 10; i++) {
      acked.set(`a${i}`, { value: `v${i}`, rev: await put(c.url, `a${i}`, `v${i}`) });
    }

    // a second server on the same data dir is refused with a clear error
    const second = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN,
        "serve",
        "--data-dir",
        dir,
        "--listen-client-urls",
        "http://127.0.0.1:0",
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(second.code, 1);
    assert.match(
      new TextDecoder().decode(second.stderr),
      /is in use by another member \(the WAL is locked\)/,
    );

    c.proc.kill("SIGTERM");
    assert.equal((await c.proc.status).code, 0);
    assert.match(await c.stderr, /"msg":"closed etcd server"/);

    c = await serve(dir);
    for (const [k, want] of acked) {
      const got = await get(c.url, k);
      assert.deepEqual(got, { value: want.value, modRevision: want.rev });
    }
    assert.equal(await headerRevision(c.url), 11);
    for (let i = 0; i < 10; i++) {
      const rev = await put(c.url, `b${i}`, `w${i}`);
      assert.equal(rev, 12 + i, "revisions go on from where they were");
      acked.set(`b${i}`, { value: `w${i}`, rev });
    }
    // kill -9 right after the last acknowledgement: the backend batch may not be committed,
    // the WAL is, and the replay must apply each entry exactly once
    c.proc.kill("SIGKILL");
    await c.proc.status;
    await c.stderr;

    c = await serve(dir);
    for (const [k, want] of acked) {
      const got = await get(c.url, k);
      assert.deepEqual(got, { value: want.value, modRevision: want.rev });
    }
    assert.equal(await headerRevision(c.url), 21, "nothing applied twice");
    assert.equal(await put(c.url, "after", "x"), 22);
    c.proc.kill("SIGTERM");
    assert.equal((await c.proc.status).code, 0);
    await c.stderr;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve: --help prints the flags, --version the versions; an unknown flag exits 2", async () => {
  const help = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "serve", "--help"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(help.code, 0);
  const text = new TextDecoder().decode(help.stdout);
  assert.match(text, /^Usage:\n\n {2}concord serve \[flags\]\n/);
  assert.match(text, /\nLogging:\n {2}--logger 'zap'\n/);
  const version = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "serve", "--version"],
    stdout: "piped",
  }).output();
  assert.equal(version.code, 0);
  assert.match(new TextDecoder().decode(version.stdout), /^etcd Version: 3\.5\.\d+\nConcord /);
  const bad = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "serve", "--bogus"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(bad.code, 2);
  assert.match(new TextDecoder().decode(bad.stderr), /flag provided but not defined: -bogus/);
});

Deno.test("serve: a damaged WAL stops the start with a message naming the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "concord-corrupt-" });
  try {
    const c = await serve(dir);
    await put(c.url, "k", "v");
    c.proc.kill("SIGTERM");
    assert.equal((await c.proc.status).code, 0);
    await c.stderr;
    const wal = `${dir}/member/wal`;
    const seg = [...Deno.readDirSync(wal)].map((e) => e.name).find((n) => n.endsWith(".wal"))!;
    const f = await Deno.open(`${wal}/${seg}`, { write: true });
    await f.write(new TextEncoder().encode("garbage!garbage!garbage!"));
    f.close();
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN,
        "serve",
        "--data-dir",
        dir,
        "--listen-client-urls",
        "http://127.0.0.1:0",
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 1);
    const text = new TextDecoder().decode(out.stderr);
    assert.match(
      text,
      /"level":"error".*"msg":"cannot start member".*"error":"WalCorruptError: .*corrupt record in /,
    );
    assert.ok(text.includes(seg), text);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
