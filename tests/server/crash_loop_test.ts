/**
 * Crash safety: a child `concord serve` under concurrent put load (fetch against the JSON
 * gateway, which needs no HTTP/2) is killed with SIGKILL at seeded random moments, several
 * times. After each restart every acknowledged write is there with the revision it was
 * acknowledged with and the revision has not gone backwards; at the end the server's hashKV
 * equals that of the same writes replayed into a fresh MvccStore.
 */
import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { MvccStore } from "../../lib/mvcc/kv_store.ts";
import { freePort } from "../support/etcd.ts";
import { newDisk, openSimBackend } from "../mvcc/helpers.ts";

const ROUNDS = 5;
const CLIENTS = 4;
const MAIN = new URL("../../main.ts", import.meta.url).pathname;

const enc = new TextEncoder();

const b64 = (s: string) => btoa(s);
const unb64 = (s: string) => atob(s);

/** A put the server answered: it must survive every crash with this revision. */
interface Ack {
  key: string;
  value: string;
  rev: number;
}

/** One kv as the gateway returns it. */
interface GatewayKv {
  key: string;
  value?: string;
  create_revision?: string;
  mod_revision?: string;
  version?: string;
}

interface Child {
  url: string;
  proc: Deno.ChildProcess;
  stderr: Promise<string>;
}

async function post(client: Deno.HttpClient, url: string, path: string, body: unknown) {
  const r = await fetch(`${url}${path}`, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json" },
    client,
  });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`${path} answered ${r.status}: ${text}`);
  return JSON.parse(text);
}

/** Starts `concord serve` on `dir` and waits until it answers a range. */
async function start(dir: string): Promise<Child> {
  const url = `http://127.0.0.1:${freePort()}`;
  const proc = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "serve",
      "--data-dir",
      dir,
      "--listen-client-urls",
      url,
      "--advertise-client-urls",
      url,
      "--listen-peer-urls",
      `http://127.0.0.1:${freePort()}`,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(proc.stderr).text();
  const client = Deno.createHttpClient({});
  const deadline = Date.now() + 20_000;
  try {
    for (;;) {
      try {
        await post(client, url, "/v3/kv/range", { key: b64("w/") });
        return { url, proc, stderr };
      } catch {
        // not ready yet
      }
      if (Date.now() > deadline) {
        proc.kill("SIGKILL");
        await proc.status;
        throw new Error(`server did not start in 20 s: ${await stderr}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    client.close();
  }
}

/** Everything under w/ with the header revision, read from a running server. */
async function readAll(url: string): Promise<{ rev: number; kvs: Map<string, GatewayKv> }> {
  const client = Deno.createHttpClient({});
  try {
    const r = await post(client, url, "/v3/kv/range", { key: b64("w/"), range_end: b64("w0") });
    const kvs = new Map<string, GatewayKv>();
    for (const kv of (r.kvs ?? []) as GatewayKv[]) kvs.set(unb64(kv.key), kv);
    return { rev: Number(r.header.revision), kvs };
  } finally {
    client.close();
  }
}

Deno.test("crash loop: SIGKILL under put load loses no acknowledged write", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  // only the kill moments come from the seed: the clients' interleaving is the machine's
  const rand = new Rand(seed);
  const dir = await Deno.makeTempDir({ prefix: "concord-crash-" });
  const acks: Ack[] = [];
  /** Every value we ever sent, by key: a key present on the server must hold it. */
  const attempted = new Map<string, string>();
  let lastRev = 0;
  let child: Child | undefined;
  try {
    child = await start(dir);
    for (let round = 0; round < ROUNDS; round++) {
      const url = child.url;
      const client = Deno.createHttpClient({});
      let stop = false;
      const load = Array.from({ length: CLIENTS }, async (_, c) => {
        let prev = 0;
        for (let n = 0; !stop; n++) {
          const key = `w/${round}/${c}/${n}`;
          const value = `v${seed}.${round}.${c}.${n}`;
          attempted.set(key, value);
          let rev: number;
          try {
            const r = await post(client, url, "/v3/kv/put", { key: b64(key), value: b64(value) });
            rev = Number(r.header.revision);
          } catch {
            return; // the server died under this request: its outcome is unknown
          }
          assert.ok(rev > prev, `client ${c}: revision ${rev} after ${prev}`);
          prev = rev;
          acks.push({ key, value, rev });
        }
      });
      const acksBefore = acks.length;
      await new Promise((r) => setTimeout(r, rand.range(300, 1500)));
      child.proc.kill("SIGKILL");
      await child.proc.status;
      await child.stderr;
      stop = true;
      await Promise.all(load);
      client.close();
      child = undefined;

      child = await start(dir);
      const { rev, kvs } = await readAll(child.url);
      console.log(
        `round ${round}: ${acks.length - acksBefore} acked; ${kvs.size - acks.length} ` +
          `unacknowledged landed in all; revision ${rev}`,
      );
      assert.ok(acks.length > acksBefore, `round ${round} acknowledged no write`);
      assert.ok(rev >= lastRev, `revision went back from ${lastRev} to ${rev}`);
      lastRev = rev;
      for (const a of acks) {
        const kv = kvs.get(a.key);
        assert.ok(kv, `acknowledged ${a.key}@${a.rev} is lost`);
        assert.equal(unb64(kv.value ?? ""), a.value, a.key);
        assert.equal(Number(kv.mod_revision), a.rev, `${a.key} revision`);
        assert.ok(rev >= a.rev, `revision ${rev} below acknowledged ${a.rev}`);
      }
      for (const [k, kv] of kvs) {
        assert.equal(unb64(kv.value ?? ""), attempted.get(k), `${k} holds a value never sent`);
      }
    }

    // replay what the server holds (acknowledged and landed-unacknowledged) into a fresh store
    const { rev, kvs } = await readAll(child.url);
    const ordered = [...kvs].sort((a, b) => Number(a[1].mod_revision) - Number(b[1].mod_revision));
    const disk = await newDisk();
    const store = MvccStore.open(await openSimBackend(disk));
    try {
      for (const [key, kv] of ordered) {
        const txn = store.beginWrite();
        try {
          txn.put(enc.encode(key), enc.encode(unb64(kv.value ?? "")), 0n);
        } finally {
          txn.end();
        }
        assert.equal(store.rev(), Number(kv.mod_revision), `replay of ${key}`);
      }
      assert.equal(store.rev(), rev);
      const client = Deno.createHttpClient({});
      try {
        const h = await post(client, child.url, "/v3/maintenance/hashkv", { revision: 0 });
        assert.equal(Number(h.hash), store.hashKV(0).hash, "hashKV differs from the replay");
        assert.equal(Number(h.header.revision), rev);
      } finally {
        client.close();
      }
    } finally {
      await store.close();
      await store.backend.close();
    }
  } finally {
    if (child) {
      child.proc.kill("SIGTERM");
      await child.proc.status;
      await child.stderr;
    }
    await Deno.remove(dir, { recursive: true });
  }
});
