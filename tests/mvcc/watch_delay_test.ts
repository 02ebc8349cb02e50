/**
 * beforeSendWatchResponse (etcd's v3rpc/watch.go) on the watch hub: a response that is to wait
 * there is held on the hub's clock, and every response after it waits behind it, so the stream
 * is late but never out of order; a closed stream drops what it held. Without fault points the
 * hub hands responses on at once.
 */
import assert from "node:assert/strict";
import { SimClock } from "../../lib/io/clock.ts";
import { MvccStore } from "../../lib/mvcc/kv_store.ts";
import { applyPut } from "../../lib/mvcc/applier.ts";
import { WatchHub } from "../../lib/mvcc/watch_hub.ts";
import type { WatchResponse } from "../../lib/mvcc/watch_types.ts";
import type { DelayPoint } from "../../lib/base/fault_points.ts";
import { newDisk, openSimBackend } from "./helpers.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("watch delay: responses held at beforeSendWatchResponse come later, in order", async () => {
  const clock = new SimClock();
  // the first event response waits 50 ms, the rest none of their own
  const delays = [0, 50];
  let hits = 0;
  const backend = await openSimBackend(await newDisk());
  const store = MvccStore.open(backend, { compactionPauseMs: 0 });
  const hub = new WatchHub(store, {
    clock,
    faults: {
      hit: () => {},
      delay: (p: DelayPoint) => {
        assert.equal(p, "beforeSendWatchResponse");
        return delays[hits++] ?? 0;
      },
    },
  });
  try {
    const s = hub.newStream();
    s.watch({ key: enc("k"), rangeEnd: enc("l") });
    const created = s.tryNext();
    assert.ok(created?.created, "the created response, not delayed");
    for (let i = 1; i <= 3; i++) applyPut(store, { key: enc(`k${i}`), value: enc("v") });
    assert.equal(s.tryNext(), undefined, "held behind the first event's delay");
    assert.equal(s.pending, 3, "held responses count against the stream's buffer");
    clock.advance(49);
    assert.equal(s.tryNext(), undefined);
    clock.advance(1);
    const got: WatchResponse[] = [];
    for (let r = s.tryNext(); r !== undefined; r = s.tryNext()) got.push(r);
    assert.deepEqual(got.map((r) => r.revision), [2, 3, 4]);
    // nothing held now: the next goes at once
    applyPut(store, { key: enc("k4"), value: enc("v") });
    assert.equal(s.tryNext()?.revision, 5);
    // a stream closed while holding drops what it held
    delays[hits] = 30;
    applyPut(store, { key: enc("k5"), value: enc("v") });
    s.close();
    clock.advance(100);
    assert.equal(s.tryNext(), undefined);
  } finally {
    hub.close();
    await store.close();
    await backend.close();
  }
});
