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
import { newDisk, openSimBackend } from "../mvcc/helpers.ts";
import { type ServeChild, spawnServe } from "./harness.ts";

const ROUNDS = 5;
const CLIENTS = 4;

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

type Child = ServeChild;

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

/**
 * Starts `concord serve` on `dir` (client and peer ports 0: the child names its URL in its
 * log, so the test never reads another test's server that took a port picked beforehand)
 * and waits until it is ready.
 */
function start(dir: string): Promise<Child> {
  return spawnServe(["--data-dir", dir, "--listen-peer-urls", "http://127.0.0.1:0"]);
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
  /** Every value we ever sent, by key: a key present on the server must hold one of them. */
  const attempted = new Map<string, Set<string>>();
  // the replay: every write that landed, applied in revision order, round by round
  const store = MvccStore.open(await openSimBackend(await newDisk()));
  let lastRev = 0;
  let child: Child | undefined;
  try {
    child = await start(dir);
    for (let round = 0; round < ROUNDS; round++) {
      const url = child.url;
      const client = Deno.createHttpClient({});
      let stop = false;
      const roundAcks: Ack[] = [];
      /** Each client's last write, whose outcome the crash hid. */
      const unknown: { key: string; value: string }[] = [];
      const load = Array.from({ length: CLIENTS }, async (_, c) => {
        let prev = 0;
        for (let n = 0; !stop; n++) {
          // every third write overwrites the client's hot key, so keys have histories
          const key = n % 3 === 2 ? `w/hot/${c}` : `w/${round}/${c}/${n}`;
          const value = `v${seed}.${round}.${c}.${n}`;
          if (!attempted.has(key)) attempted.set(key, new Set());
          attempted.get(key)!.add(value);
          let rev: number;
          try {
            const r = await post(client, url, "/v3/kv/put", { key: b64(key), value: b64(value) });
            rev = Number(r.header.revision);
          } catch {
            unknown.push({ key, value });
            return; // the server died under this request
          }
          assert.ok(rev > prev, `client ${c}: revision ${rev} after ${prev}`);
          prev = rev;
          roundAcks.push({ key, value, rev });
        }
      });
      // beside the puts: defragment and compact (physically) now and then, so kills land
      // inside those too
      const compactions: number[] = [];
      const maintenance = (async () => {
        for (let i = 0; !stop; i++) {
          await new Promise((r) => setTimeout(r, 100 + 50 * (i % 4)));
          if (stop) return;
          const top = roundAcks.at(-1)?.rev ?? 0;
          try {
            if (i % 2 === 0) {
              await post(client, url, "/v3/maintenance/defragment", {});
            } else if (top - 50 > (compactions.at(-1) ?? 0)) {
              await post(client, url, "/v3/kv/compaction", { revision: top - 50, physical: true });
              compactions.push(top - 50);
            }
          } catch {
            return;
          }
        }
      })();
      // the kill moment counts from the round's first acknowledgement: on a loaded machine
      // the first puts after a restart can take longer than the whole delay
      const firstAck = Date.now() + 30_000;
      while (roundAcks.length === 0 && Date.now() < firstAck) {
        await new Promise((r) => setTimeout(r, 10));
      }
      await new Promise((r) => setTimeout(r, rand.range(300, 1500)));
      child.proc.kill("SIGKILL");
      await child.proc.status;
      await child.stderr;
      stop = true;
      await Promise.all([...load, maintenance]);
      client.close();
      child = undefined;

      child = await start(dir);
      const { rev, kvs } = await readAll(child.url);
      assert.ok(roundAcks.length > 0, `round ${round} acknowledged no write`);
      assert.ok(rev >= lastRev, `revision went back from ${lastRev} to ${rev}`);
      lastRev = rev;
      acks.push(...roundAcks);
      // the latest acknowledged write of each key is what the key holds now
      const latest = new Map<string, Ack>();
      for (const a of acks) {
        assert.ok(rev >= a.rev, `revision ${rev} below acknowledged ${a.rev}`);
        if ((latest.get(a.key)?.rev ?? 0) < a.rev) latest.set(a.key, a);
      }
      const landed: Ack[] = [];
      for (const u of unknown) {
        const kv = kvs.get(u.key);
        if (kv && unb64(kv.value ?? "") === u.value) {
          landed.push({ ...u, rev: Number(kv.mod_revision) });
        }
      }
      for (const [key, a] of latest) {
        const kv = kvs.get(key);
        assert.ok(kv, `acknowledged ${key}@${a.rev} is lost`);
        const late = landed.find((l) => l.key === key);
        const want = late ?? a;
        assert.equal(unb64(kv.value ?? ""), want.value, key);
        assert.equal(Number(kv.mod_revision), want.rev, `${key} revision`);
      }
      for (const [k, kv] of kvs) {
        assert.ok(attempted.get(k)?.has(unb64(kv.value ?? "")), `${k} holds a value never sent`);
      }
      console.log(
        `round ${round}: ${roundAcks.length} acknowledged, ${landed.length} unacknowledged ` +
          `landed, revision ${rev}, ${compactions.length} compactions acknowledged`,
      );

      // replay this round's writes; the revisions must follow on without a gap
      const writes = [...roundAcks, ...landed].sort((a, b) => a.rev - b.rev);
      for (const w of writes) {
        const txn = store.beginWrite();
        try {
          txn.put(enc.encode(w.key), enc.encode(w.value), 0n);
        } finally {
          txn.end();
        }
        assert.equal(store.rev(), w.rev, `replay of ${w.key}: a revision is missing`);
      }
      assert.equal(store.rev(), rev, "the server holds writes nobody sent");
      const hc = Deno.createHttpClient({});
      try {
        const h = await post(hc, child.url, "/v3/maintenance/hashkv", { revision: 0 });
        // an acknowledged compaction survives; an unacknowledged one may have landed
        const compacted = Number(h.compact_revision ?? 0);
        assert.ok(
          compacted >= (compactions.at(-1) ?? -1),
          `compaction at ${compactions.at(-1)} lost (${compacted})`,
        );
        if (compacted > store.compactRev()) await store.compact(compacted).done;
        assert.equal(Number(h.header.revision), rev);
        assert.equal(Number(h.hash), store.hashKV(0).hash, `round ${round}: hashKV differs`);
      } finally {
        hc.close();
      }
    }
  } finally {
    await store.close();
    await store.backend.close();
    if (child) {
      child.proc.kill("SIGTERM");
      await child.proc.status;
      await child.stderr;
    }
    await Deno.remove(dir, { recursive: true });
  }
});
