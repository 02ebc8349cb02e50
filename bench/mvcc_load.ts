// MVCC throughput and memory, measured in-process over the real page-file backend on RealDisk
// (default batching: commit every 100 ms or 10,000 operations). Results go in docs/perf.md.
//
//   ./node_modules/.bin/deno run -A --v8-flags=--expose-gc bench/mvcc_load.ts [part...]
//
// parts: put1k put1m reopen range index watch (default: all). The peer figures come from etcd 3.4's
// own mvcc benchmarks, run in the same session (see docs/perf.md).
import { RealDisk } from "../lib/io/real_disk.ts";
import { openBackend } from "../lib/backend/open.ts";
import type { Backend } from "../lib/backend/backend.ts";
import { MvccStore } from "../lib/mvcc/kv_store.ts";
import { applyPut, applyRange } from "../lib/mvcc/applier.ts";
import { BTree } from "../lib/mvcc/btree.ts";
import { type History, historyPut } from "../lib/mvcc/key_history.ts";
import { bytesToKey, prefixEnd } from "../lib/mvcc/key_bytes.ts";
import { WatchHub } from "../lib/mvcc/watch_hub.ts";
import { Rand } from "../lib/base/rand.ts";

const parts = Deno.args.length
  ? Deno.args
  : ["put1k", "put1m", "reopen", "range", "index", "watch"];
const enc = new TextEncoder();

// Yields one event-loop turn so the backend's commits (and their fdatasync) progress. A
// MessageChannel round costs ~25 µs; setTimeout(0) costs ~2 ms in Deno and would dominate.
const channel = new MessageChannel();
function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => {
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(0);
  });
}
const gc = (globalThis as unknown as { gc?: () => void }).gc;

function keyOf(i: number, prefix = "/registry/key/"): Uint8Array {
  return enc.encode(prefix + String(i).padStart(8, "0"));
}

async function withStore<T>(fn: (s: MvccStore, b: Backend) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "mvcc-bench-" });
  const backend = await openBackend(new RealDisk(), `${dir}/db`);
  const store = MvccStore.open(backend);
  try {
    return await fn(store, backend);
  } finally {
    await store.close();
    await backend.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Puts `total` times over `distinct` keys; yields every 1,000 puts so commits proceed. */
async function putRun(distinct: number, total: number, valueBytes: number): Promise<number> {
  return await withStore(async (store, backend) => {
    const keys = Array.from({ length: Math.min(distinct, total) }, (_, i) => keyOf(i));
    const value = new Rand(1).bytes(valueBytes);
    const t0 = performance.now();
    for (let i = 0; i < total; i++) {
      applyPut(store, { key: keys[i % distinct], value });
      if (i % 1000 === 999) await yieldToLoop();
    }
    await backend.commit();
    const s = (performance.now() - t0) / 1000;
    return total / s;
  });
}

function report(name: string, value: number, unit: string): void {
  console.log(`${name.padEnd(48)} ${value.toFixed(0).padStart(12)} ${unit}`);
}

if (parts.includes("index")) {
  // The key index alone, filled exactly as the store fills it (one revision per key).
  // Measured first, before other parts leave garbage behind.
  if (!gc) throw new Error("run with --v8-flags=--expose-gc");
  const N = 1_000_000;
  const order = new Rand(7).shuffle(Array.from({ length: N }, (_, i) => i));
  for (let i = 0; i < 3; i++) gc();
  const before = Deno.memoryUsage().heapUsed;
  // Keys are made after the baseline: the index keeps each key (as a one-byte string).
  const index = new BTree<History>();
  for (let j = 0; j < N; j++) {
    const k = bytesToKey(keyOf(order[j]));
    index.set(k, historyPut(index.get(k), j + 2, 0));
  }
  gc();
  const after = Deno.memoryUsage().heapUsed;
  report("key index heap per key, 1M keys, random order", (after - before) / N, "bytes/key");
  console.log(`  (22-byte keys, one revision each; includes the key strings)`);
  if (index.size !== N) throw new Error("index size");
}

if (parts.includes("put1k")) {
  report("put, 1,000 distinct keys, 256 B values", await putRun(1000, 300_000, 256), "puts/s");
  report(
    "put, distinct keys, 64 B values (etcd's bench)",
    await putRun(300_000, 300_000, 64),
    "puts/s",
  );
}
if (parts.includes("put1m")) {
  report(
    "put, 1,000,000 distinct keys, 256 B values",
    await putRun(1_000_000, 1_000_000, 256),
    "puts/s",
  );
}

if (parts.includes("reopen")) {
  // Opening a store of 1M keys: the key index is rebuilt from the "key" bucket.
  const dir = await Deno.makeTempDir({ prefix: "mvcc-bench-" });
  try {
    let backend = await openBackend(new RealDisk(), `${dir}/db`);
    let store = MvccStore.open(backend);
    const value = new Uint8Array(256);
    for (let i = 0; i < 1_000_000; i++) {
      applyPut(store, { key: keyOf(i), value });
      if (i % 1000 === 999) await yieldToLoop();
    }
    await store.close();
    await backend.close();
    const t0 = performance.now();
    backend = await openBackend(new RealDisk(), `${dir}/db`);
    store = MvccStore.open(backend);
    report("open a store of 1,000,000 keys (index rebuild)", performance.now() - t0, "ms");
    if (store.indexSize() !== 1_000_000) throw new Error("index size");
    await store.close();
    await backend.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (parts.includes("range")) {
  await withStore(async (store, backend) => {
    const value = new Uint8Array(64);
    for (let i = 0; i < 10_000; i++) {
      applyPut(store, { key: keyOf(i), value });
      if (i % 1000 === 999) await yieldToLoop();
    }
    await backend.commit();
    const one = { key: keyOf(4242) };
    let n = 0;
    let t0 = performance.now();
    while (performance.now() - t0 < 2000) {
      for (let j = 0; j < 1000; j++) applyRange(store, one);
      n += 1000;
    }
    report(
      "range of 1 key (10,000 keys stored)",
      n / ((performance.now() - t0) / 1000),
      "ranges/s",
    );
    const many = { key: keyOf(1000), rangeEnd: keyOf(2000) };
    if (applyRange(store, many).kvs.length !== 1000) throw new Error("range size");
    n = 0;
    t0 = performance.now();
    while (performance.now() - t0 < 2000) {
      for (let j = 0; j < 10; j++) applyRange(store, many);
      n += 10;
    }
    const rps = n / ((performance.now() - t0) / 1000);
    report("range of 1,000 keys", rps, "ranges/s");
    report("range of 1,000 keys: keys returned", rps * 1000, "keys/s");
  });
}

if (parts.includes("watch")) {
  await withStore(async (store) => {
    const hub = new WatchHub(store);
    const W = 1000;
    const prefix = enc.encode("/w/");
    const streams = Array.from({ length: W }, () => hub.newStream({ bufferSize: 1 << 20 }));
    for (const s of streams) {
      s.watch({ key: prefix, rangeEnd: prefixEnd(prefix) });
      s.tryNext();
    }
    const value = new Uint8Array(64);
    const keys = Array.from({ length: 1000 }, (_, i) => keyOf(i, "/w/"));
    const puts = 2000;
    let delivered = 0;
    const t0 = performance.now();
    for (let i = 0; i < puts; i++) {
      applyPut(store, { key: keys[i % 1000], value });
      if (i % 100 === 99) {
        for (const s of streams) {
          for (let r = s.tryNext(); r; r = s.tryNext()) delivered += r.events.length;
        }
      }
    }
    for (const s of streams) {
      for (let r = s.tryNext(); r; r = s.tryNext()) delivered += r.events.length;
    }
    const secs = (performance.now() - t0) / 1000;
    if (delivered !== puts * W) throw new Error(`delivered ${delivered}`);
    report("watch fan-out: 1,000 watchers of one prefix", delivered / secs, "events/s");
    hub.close();
  });
}

channel.port1.close();
