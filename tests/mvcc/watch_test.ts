import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { SimClock } from "../../lib/io/clock.ts";
import { MvccStore } from "../../lib/mvcc/kv_store.ts";
import {
  applyCompaction,
  applyDeleteRange,
  applyPut,
  applyRange,
  applyTxn,
} from "../../lib/mvcc/applier.ts";
import { WatchHub as Hub, type WatchStream } from "../../lib/mvcc/watch_hub.ts";
import { WatchFilter, type WatchResponse } from "../../lib/mvcc/watch_types.ts";
import { type Event, EventType } from "../../lib/mvcc/types.ts";
import { bytesToKey, prefixEnd } from "../../lib/mvcc/key_bytes.ts";
import { fragmentResponse } from "../../lib/mvcc/fragment.ts";
import type { Commit } from "../../lib/mvcc/kv_store.ts";
import { newDisk, openSimBackend } from "./helpers.ts";
import { genDelete, genKey, genPut, genTxn } from "./gen.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

async function setup(opts: { syncRevs?: number; clock?: SimClock } = {}) {
  const disk = await newDisk();
  const backend = await openSimBackend(disk);
  const store = MvccStore.open(backend, { compactionPauseMs: 0 });
  const hub = new Hub(store, { syncRevs: opts.syncRevs, clock: opts.clock });
  return {
    backend,
    store,
    hub,
    async close() {
      hub.close();
      await store.close();
      await backend.close();
    },
  };
}

/** Takes responses until `pred` holds for one, failing after `ms`. */
async function until(
  s: WatchStream,
  pred: (r: WatchResponse) => boolean,
  ms = 5000,
): Promise<WatchResponse[]> {
  const got: WatchResponse[] = [];
  const deadline = Date.now() + ms;
  for (;;) {
    const r = s.tryNext();
    if (r) {
      got.push(r);
      if (pred(r)) return got;
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out; got ${Deno.inspect(got)}`);
    await new Promise((res) => setTimeout(res, 1));
  }
}

function lastRev(r: WatchResponse): number {
  return r.events.length ? r.events[r.events.length - 1].kv.modRevision : 0;
}

function put(store: MvccStore, k: string, v: string) {
  return applyPut(store, { key: enc(k), value: enc(v) }).header.revision;
}

Deno.test("watch: live events in order, a txn's events together", async () => {
  const t = await setup();
  const s = t.hub.newStream();
  const id = s.watch({ key: enc("a/"), rangeEnd: prefixEnd(enc("a/")) });
  const created = s.tryNext()!;
  assert.deepEqual([created.watchId, created.created, created.revision], [id, true, 1]);
  put(t.store, "a/1", "x");
  put(t.store, "b/1", "y");
  applyTxn(t.store, {
    success: [
      { case: "requestPut", value: { key: enc("a/2"), value: enc("p") } },
      { case: "requestPut", value: { key: enc("a/3"), value: enc("q") } },
      { case: "requestDeleteRange", value: { key: enc("a/1") } },
    ],
  });
  const r1 = s.tryNext()!;
  assert.equal(r1.revision, 2);
  assert.deepEqual(r1.events.map((e) => [e.type, dec(e.kv.key), e.kv.modRevision]), [
    [EventType.PUT, "a/1", 2],
  ]);
  const r2 = s.tryNext()!;
  assert.equal(r2.revision, 4);
  assert.deepEqual(r2.events.map((e) => [e.type, dec(e.kv.key), e.kv.modRevision]), [
    [EventType.PUT, "a/2", 4],
    [EventType.PUT, "a/3", 4],
    [EventType.DELETE, "a/1", 4],
  ]);
  assert.equal(s.tryNext(), undefined);
  assert.equal(s.cancel(id), true);
  assert.deepEqual([s.tryNext()!.canceled, s.cancel(id)], [true, false]);
  put(t.store, "a/9", "z");
  assert.equal(s.tryNext(), undefined);
  await t.close();
});

Deno.test("watch: catch-up from history then live, no gap, no duplicate", async () => {
  const t = await setup({ syncRevs: 7 });
  for (let i = 0; i < 100; i++) put(t.store, `k${i % 10}`, `v${i}`);
  const s = t.hub.newStream();
  s.watch({ key: enc("k"), rangeEnd: prefixEnd(enc("k")), startRevision: 5 });
  // Keep writing while the watcher catches up.
  let writes = 0;
  const writer = (async () => {
    while (writes < 50) {
      put(t.store, `k${writes % 3}`, `w${writes}`);
      writes++;
      await new Promise((r) => setTimeout(r, 0));
    }
  })();
  await writer;
  const final = t.store.rev();
  const got = await until(s, (r) => lastRev(r) === final);
  const revs = got.flatMap((r) => r.events.map((e) => e.kv.modRevision));
  assert.deepEqual(revs, Array.from({ length: final - 4 }, (_, i) => i + 5));
  await t.close();
});

Deno.test("watch: a slow stream never blocks writes or other streams, then catches up", async () => {
  const t = await setup({ syncRevs: 10 });
  const slow = t.hub.newStream({ bufferSize: 2 });
  const fast = t.hub.newStream({ bufferSize: 1000 });
  slow.watch({ key: enc("x"), rangeEnd: new Uint8Array([0]) });
  fast.watch({ key: enc("x"), rangeEnd: new Uint8Array([0]) });
  slow.tryNext();
  fast.tryNext();
  for (let i = 0; i < 300; i++) put(t.store, `x${i % 7}`, `${i}`);
  assert.equal(t.store.rev(), 301); // every write went through
  assert.equal(t.hub.counts().victims, 1);
  assert.ok(slow.pending <= 2);
  const fastGot = await until(fast, (r) => lastRev(r) === 301);
  assert.equal(fastGot.length, 300);
  const slowGot = await until(slow, (r) => lastRev(r) === 301);
  const revs = slowGot.flatMap((r) => r.events.map((e) => e.kv.modRevision));
  assert.deepEqual(revs, Array.from({ length: 300 }, (_, i) => i + 2));
  assert.deepEqual(t.hub.counts(), { synced: 2, unsynced: 0, victims: 0 });
  await t.close();
});

Deno.test("watch: compacted start revision gets a compacted, canceled response", async () => {
  const t = await setup();
  for (let i = 0; i < 10; i++) put(t.store, "c", `${i}`);
  await applyCompaction(t.store, { revision: 8 }).done;
  const s = t.hub.newStream();
  const id = s.watch({ key: enc("c"), startRevision: 3 });
  s.tryNext();
  const [r] = await until(s, () => true);
  assert.deepEqual([r.watchId, r.compactRevision, r.canceled, r.events.length], [id, 8, true, 0]);
  // Resuming at the compacted revision itself works.
  s.watch({ key: enc("c"), startRevision: 8 });
  s.tryNext();
  const got = await until(s, (x) => lastRev(x) === 11);
  assert.deepEqual(got.flatMap((x) => x.events.map((e) => e.kv.modRevision)), [8, 9, 10, 11]);
  await t.close();
});

Deno.test("watch: filters, prev_kv, resume from the last seen revision", async () => {
  const t = await setup();
  const s = t.hub.newStream();
  s.watch({ key: enc("f"), filters: [WatchFilter.NOPUT], prevKv: true });
  s.watch({ key: enc("f"), filters: [WatchFilter.NODELETE] });
  s.tryNext();
  s.tryNext();
  put(t.store, "f", "1");
  put(t.store, "f", "2");
  applyDeleteRange(t.store, { key: enc("f") });
  const got = await until(s, (r) => r.watchId === 0);
  const puts = got.filter((r) => r.watchId === 1);
  assert.deepEqual(puts.map((r) => dec(r.events[0].kv.value)), ["1", "2"]);
  const del = got[got.length - 1];
  assert.equal(del.events[0].type, EventType.DELETE);
  assert.equal(dec(del.events[0].prevKv!.value), "2");
  assert.equal(del.events[0].prevKv!.modRevision, 3);
  // Resume a new stream from the revision after the last one seen.
  put(t.store, "f", "3");
  const s2 = t.hub.newStream();
  s2.watch({ key: enc("f"), startRevision: 3, prevKv: true });
  s2.tryNext();
  const r = await until(s2, (x) => lastRev(x) === 5);
  const evs = r.flatMap((x) => x.events);
  assert.deepEqual(evs.map((e) => [e.type, e.kv.modRevision]), [
    [EventType.PUT, 3],
    [EventType.DELETE, 4],
    [EventType.PUT, 5],
  ]);
  assert.equal(dec(evs[0].prevKv!.value), "1");
  assert.equal(evs[2].prevKv, undefined);
  await t.close();
});

Deno.test("watch: bad create requests are refused as etcd does", async () => {
  const t = await setup();
  const s = t.hub.newStream();
  assert.equal(s.watch({ key: enc("b"), rangeEnd: enc("a") }), -1);
  const r = s.tryNext()!;
  assert.deepEqual([r.watchId, r.created, r.canceled, r.cancelReason], [
    -1,
    true,
    true,
    "mvcc: watcher range is empty",
  ]);
  assert.equal(s.watch({ key: enc("a"), watchId: 7 }), 7);
  s.tryNext();
  assert.equal(s.watch({ key: enc("a"), watchId: 7 }), -1);
  assert.equal(s.tryNext()!.cancelReason, "mvcc: duplicate watch ID provided on the WatchStream");
  assert.equal(s.watch({ key: enc("a") }), 0);
  await t.close();
});

Deno.test("watch: progress on request and periodically", async () => {
  const clock = new SimClock();
  const t = await setup({ clock, syncRevs: 1000 });
  put(t.store, "p", "1");
  const s = t.hub.newStream();
  s.watch({ key: enc("p"), progressNotify: true });
  s.watch({ key: enc("q"), startRevision: 1 });
  s.tryNext();
  s.tryNext();
  s.requestProgress(); // deferred: the second watcher is still catching up
  assert.equal(s.tryNext(), undefined);
  clock.advance(0); // one catch-up step
  const got = [s.tryNext()!];
  assert.deepEqual([got[0].watchId, got[0].revision, got[0].events.length], [-1, 2, 0]);
  clock.advance(10 * 60 * 1000);
  const tick = s.tryNext()!;
  assert.deepEqual([tick.watchId, tick.revision], [0, 2]);
  put(t.store, "p", "2");
  assert.equal(s.tryNext()!.events.length, 1);
  clock.advance(10 * 60 * 1000); // an event was sent in this interval: no progress
  assert.equal(s.tryNext(), undefined);
  clock.advance(10 * 60 * 1000);
  assert.deepEqual(s.tryNext()!.revision, 3);
  await t.close();
});

Deno.test("watch: fragment splits large responses under the byte limit", () => {
  const ev = (i: number): Event => ({
    type: EventType.PUT,
    kv: {
      key: enc(`key${i}`),
      value: new Uint8Array(100),
      createRevision: i,
      modRevision: i,
      version: 1,
      lease: 0n,
    },
  });
  const r: WatchResponse = {
    watchId: 1,
    revision: 10,
    events: Array.from({ length: 10 }, (_, i) => ev(i + 1)),
    created: false,
    canceled: false,
    cancelReason: "",
    compactRevision: 0,
    fragment: false,
  };
  assert.deepEqual(fragmentResponse(r, 1 << 20, 20), [r]);
  const parts = fragmentResponse(r, 400, 20);
  assert.ok(parts.length > 1);
  assert.deepEqual(parts.flatMap((p) => p.events), r.events);
  assert.deepEqual(parts.map((p) => p.fragment), parts.map((_, i) => i < parts.length - 1));
  for (const p of parts) assert.ok(p.events.length >= 1 && p.events.length <= 3);
  // One event alone above the limit still goes out, unsplit.
  assert.equal(fragmentResponse({ ...r, events: [ev(1)] }, 10, 20).length, 1);
});

interface Expect {
  stream: WatchStream;
  id: number;
  key: Uint8Array;
  end: Uint8Array | undefined;
  start: number;
  noPut: boolean;
  noDelete: boolean;
  got: Event[];
  revs: number[];
  compacted: number;
}

function inSpan(key: Uint8Array, end: Uint8Array | undefined, k: Uint8Array): boolean {
  const a = bytesToKey(key);
  const x = bytesToKey(k);
  if (end === undefined || end.length === 0) return x === a;
  if (end.length === 1 && end[0] === 0) return x >= a;
  return x >= a && x < bytesToKey(end);
}

Deno.test("watch: random writers, watchers and slow consumers see exactly the history", async () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const r = new Rand(seed);
  const t = await setup({ syncRevs: r.range(1, 20) });
  const commits: Commit[] = [];
  t.store.subscribe((c) => commits.push({ rev: c.rev, changes: c.changes.slice() }));
  const watchers: Expect[] = [];
  const streams: WatchStream[] = [];
  for (let i = 0; i < 4; i++) streams.push(t.hub.newStream({ bufferSize: r.range(1, 6) }));
  const drain = (s: WatchStream, max: number) => {
    for (let n = 0; n < max; n++) {
      const resp = s.tryNext();
      if (!resp) return;
      const w = watchers.find((x) => x.stream === s && x.id === resp.watchId);
      if (w && resp.compactRevision) w.compacted = resp.compactRevision;
      if (!w || resp.events.length === 0) continue;
      assert.equal(w.compacted, 0, `seed=${seed}: events after the compacted response`);
      w.got.push(...resp.events);
      // Atomic: each revision's events arrive in one response (checked below: no revision
      // appears in two responses of the same watcher).
      w.revs.push(...new Set(resp.events.map((e) => e.kv.modRevision)));
    }
  };
  for (let step = 0; step < 400; step++) {
    const x = r.int(100);
    try {
      if (x < 35) applyPut(t.store, genPut(r));
      else if (x < 45) applyDeleteRange(t.store, genDelete(r));
      else if (x < 60) applyTxn(t.store, genTxn(r, t.store.rev(), t.store.compactRev()));
    } catch (_) {
      // etcd errors are fine here; the history is what matters
    }
    if (x >= 60 && x < 66) {
      const s = r.pick(streams);
      const key = genKey(r);
      const end = r.chance(0.5) ? prefixEnd(key.subarray(0, 1)) : undefined;
      const start = r.chance(0.5) ? 0 : r.range(1, t.store.rev() + 3);
      const noPut = r.chance(0.15);
      const noDelete = r.chance(0.15);
      const filters = [
        ...(noPut ? [WatchFilter.NOPUT] : []),
        ...(noDelete ? [WatchFilter.NODELETE] : []),
      ];
      const id = s.watch({ key, rangeEnd: end, startRevision: start, filters });
      const eff = start === 0 ? t.store.rev() + 1 : start;
      watchers.push({
        stream: s,
        id,
        key,
        end,
        start: eff,
        noPut,
        noDelete,
        got: [],
        revs: [],
        compacted: 0,
      });
    }
    if (x >= 66 && x < 90) drain(r.pick(streams), r.range(1, 4));
    if (x >= 90) await new Promise((res) => setTimeout(res, 0));
    if (r.chance(0.006) && t.store.rev() > t.store.compactRev() + 1) {
      applyCompaction(t.store, { revision: r.range(t.store.compactRev() + 1, t.store.rev() + 1) });
    }
  }
  const final = t.store.rev();
  // Drain everything until each watcher is synced and its queue empty.
  const deadline = Date.now() + 10_000;
  while (t.hub.counts().unsynced + t.hub.counts().victims > 0 || streams.some((s) => s.pending)) {
    for (const s of streams) drain(s, 100);
    await new Promise((res) => setTimeout(res, 0));
    assert.ok(Date.now() < deadline, `seed=${seed} did not settle`);
  }
  let total = 0;
  for (const w of watchers) {
    total += w.got.length;
    const want: Event[] = [];
    for (const c of commits) {
      if (c.rev < w.start) continue;
      for (const kv of c.changes) {
        if (!inSpan(w.key, w.end, kv.key)) continue;
        const del = kv.createRevision === 0;
        if ((del && w.noDelete) || (!del && w.noPut)) continue;
        want.push({
          type: del ? EventType.DELETE : EventType.PUT,
          kv: del ? { ...kv, modRevision: c.rev } : kv,
        });
      }
    }
    const ctx = `seed=${seed} watcher ${w.id} from ${w.start} (final ${final})`;
    if (w.compacted) {
      // A compacted watcher got a gap-free prefix, all of it below the compacted revision.
      assert.deepEqual(w.got, want.slice(0, w.got.length), ctx);
      if (w.got.length) assert.ok(w.got[w.got.length - 1].kv.modRevision < w.compacted, ctx);
    } else {
      assert.deepEqual(w.got, want, ctx);
    }
    assert.equal(new Set(w.revs).size, w.revs.length, `seed=${seed} a revision was split`);
  }
  const compacted = watchers.filter((w) => w.compacted).length;
  console.log(
    `${watchers.length} watchers (${compacted} compacted), ${total} events, ${commits.length} revisions`,
  );
  assert.ok(watchers.length > 5 && total > 0, `seed=${seed}: the run exercised nothing`);
  await t.close();
});

Deno.test("watch: after a snapshot restore, watchers catch up from the new store", async () => {
  const a = await setup();
  const s = a.hub.newStream();
  put(a.store, "x", "1");
  s.watch({ key: enc("x") });
  s.tryNext();
  // The new store (as after installing a snapshot) is ahead.
  const disk = await newDisk();
  const backend = await openSimBackend(disk);
  const b = MvccStore.open(backend);
  for (const v of ["1", "2", "3"]) put(b, "x", v);
  a.hub.restore(b);
  const got = await until(s, (r) => lastRev(r) === 4);
  assert.deepEqual(got.flatMap((r) => r.events.map((e) => dec(e.kv.value))), ["2", "3"]);
  put(b, "x", "4");
  assert.equal(dec(s.tryNext()!.events[0].kv.value), "4");
  await a.close();
  await b.close();
  await backend.close();
});

Deno.test("watch: after a snapshot restore, events already delivered are not delivered again (etcd #15271)", async () => {
  const a = await setup();
  const s = a.hub.newStream();
  put(a.store, "x", "1"); // 2
  s.watch({ key: enc("x") });
  s.tryNext();
  put(a.store, "x", "2"); // 3
  put(a.store, "x", "3"); // 4
  const before = await until(s, (r) => lastRev(r) === 4);
  assert.deepEqual(before.flatMap((r) => r.events.map((e) => dec(e.kv.value))), ["2", "3"]);
  const disk = await newDisk();
  const backend = await openSimBackend(disk);
  const b = MvccStore.open(backend);
  for (const v of ["1", "2", "3", "4", "5"]) put(b, "x", v); // 2..6
  a.hub.restore(b);
  const got = await until(s, (r) => lastRev(r) === 6);
  assert.deepEqual(got.flatMap((r) => r.events.map((e) => dec(e.kv.value))), ["4", "5"]);
  await a.close();
  await b.close();
  await backend.close();
});

Deno.test("watch: from the compacted revision, a deletion made at it is still delivered", async () => {
  const t = await setup();
  put(t.store, "d", "1"); // 2
  applyDeleteRange(t.store, { key: enc("d") }); // 3
  put(t.store, "e", "1"); // 4
  await applyCompaction(t.store, { revision: 3 }).done;
  const s = t.hub.newStream();
  s.watch({ key: enc("d"), rangeEnd: enc("f"), startRevision: 3 });
  s.tryNext();
  const got = await until(s, (r) => lastRev(r) === 4);
  assert.deepEqual(
    got.flatMap((r) => r.events.map((e) => [e.type, dec(e.kv.key), e.kv.modRevision])),
    [
      [EventType.DELETE, "d", 3],
      [EventType.PUT, "e", 4],
    ],
  );
  // The kept tombstone survives a reopen, and the next compaction removes it.
  await t.store.close();
  const b = MvccStore.open(t.backend, { compactionPauseMs: 0 });
  assert.equal(applyRange(b, { key: enc("d"), revision: 3 }).count, 0);
  await applyCompaction(b, { revision: 4 }).done;
  let n = 0;
  t.backend.read.range("key", new Uint8Array(0), undefined, () => {
    n++;
  });
  assert.equal(n, 1);
  t.hub.close();
  await b.close();
  await t.backend.close();
});

Deno.test("watch: async iteration waits for events and ends when the stream closes", async () => {
  const t = await setup();
  const s = t.hub.newStream();
  s.watch({ key: enc("i") });
  const seen: string[] = [];
  const consumer = (async () => {
    for await (const r of s) {
      if (r.created) continue;
      seen.push(dec(r.events[0].kv.value));
      if (seen.length === 3) s.close();
    }
  })();
  for (const v of ["1", "2", "3"]) {
    await new Promise((res) => setTimeout(res, 1));
    put(t.store, "i", v);
  }
  await consumer;
  assert.deepEqual(seen, ["1", "2", "3"]);
  assert.equal(await s.next(), undefined);
  assert.deepEqual(t.hub.counts(), { synced: 0, unsynced: 0, victims: 0 });
  await t.close();
});

Deno.test("watch: a catch-up due while a snapshot install has closed the store waits for the restore", async () => {
  const clock = new SimClock();
  const a = await setup({ clock });
  put(a.store, "x", "1"); // 2
  put(a.store, "x", "2"); // 3
  const s = a.hub.newStream();
  s.watch({ key: enc("x"), startRevision: 2 }); // behind: caught up by the sync timer
  // the member installs a snapshot: its old store and backend close before restore()
  await a.store.close();
  await a.backend.close();
  // before, the sync timer read the closed backend and threw 'backend is closed' out of the
  // timer (over the real clock: an uncaught error ending the process)
  clock.advance(10);
  const disk = await newDisk();
  const backend = await openSimBackend(disk);
  const b = MvccStore.open(backend);
  for (const v of ["1", "2", "3"]) put(b, "x", v); // 2..4
  a.hub.restore(b);
  for (let i = 0; i < 10; i++) clock.advance(10);
  const got: string[] = [];
  for (let r = s.tryNext(); r !== undefined; r = s.tryNext()) {
    for (const e of r.events) got.push(`${dec(e.kv.value)}@${e.kv.modRevision}`);
  }
  assert.deepEqual(got, ["1@2", "2@3", "3@4"]);
  a.hub.close();
  await b.close();
  await backend.close();
});
