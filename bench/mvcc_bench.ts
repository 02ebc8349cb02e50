// `deno bench` suite for the MVCC store and watch over the page-file backend on SimDisk (in
// memory, so no temp files). The load figures for docs/perf.md come from
// bench/mvcc_load.ts (RealDisk); these track regressions.
import { SimDisk } from "../lib/io/sim_disk.ts";
import { SimClock } from "../lib/io/clock.ts";
import { openBackend } from "../lib/backend/open.ts";
import { MvccStore } from "../lib/mvcc/kv_store.ts";
import { applyPut, applyRange, applyTxn } from "../lib/mvcc/applier.ts";
import { prefixEnd } from "../lib/mvcc/key_bytes.ts";
import { WatchHub } from "../lib/mvcc/watch_hub.ts";

const enc = new TextEncoder();
const keyOf = (i: number, p = "/registry/key/") => enc.encode(p + String(i).padStart(8, "0"));
const disk = new SimDisk();
await disk.mkdirAll("/b");
const backend = await openBackend(disk, "/b/db", { clock: new SimClock() });
const store = MvccStore.open(backend);
const hub = new WatchHub(store);
const value = new Uint8Array(256);
for (let i = 0; i < 10_000; i++) applyPut(store, { key: keyOf(i), value });
await backend.commit();
const keys = Array.from({ length: 1000 }, (_, i) => keyOf(i));
let n = 0;

Deno.bench("mvcc put, 1,000 keys, 256 B values", { n: 50_000 }, () => {
  applyPut(store, { key: keys[n++ % 1000], value });
});

Deno.bench("mvcc txn: compare + put", { n: 20_000 }, () => {
  applyTxn(store, {
    compare: [{ key: keys[n % 1000], target: 0, result: 1, version: 0 }],
    success: [{ case: "requestPut", value: { key: keys[n++ % 1000], value } }],
  });
});

Deno.bench("mvcc range, 1 key", () => {
  applyRange(store, { key: keyOf(4242) });
});

Deno.bench("mvcc range, 1,000 keys", { n: 500 }, () => {
  applyRange(store, { key: keyOf(1000), rangeEnd: keyOf(2000) });
});

Deno.bench("mvcc range, 1,000 keys, count only", { n: 2000 }, () => {
  applyRange(store, { key: keyOf(1000), rangeEnd: keyOf(2000), countOnly: true });
});

const streams = Array.from({ length: 1000 }, () => hub.newStream({ bufferSize: 1 << 20 }));
const prefix = enc.encode("/w/");
for (const s of streams) {
  s.watch({ key: prefix, rangeEnd: prefixEnd(prefix) });
  s.tryNext();
}
Deno.bench("watch: one put delivered to 1,000 prefix watchers", { n: 2000 }, () => {
  applyPut(store, { key: keyOf(n++ % 1000, "/w/"), value });
  for (const s of streams) s.tryNext();
});
