/**
 * etcd's watch-latency (tools/benchmark/cmd/watch_latency.go) with its `--put-rate`: `clients`
 * watch streams with `watchPerStream` watchers each, all on one key, and one writer putting
 * `total` values to that key one after another, each when the previous one is answered and a
 * token-bucket limiter of `rate` puts per second with a burst of `rate` (Go's
 * rate.NewLimiter(rate, rate), as etcd's) lets it, never waiting for the watchers (the
 * closed-loop `runWatch` waits for every watcher before the next put, so it measures
 * throughput; this measures the put-to-event latency a steady write load sees). As etcd's tool,
 * an event's latency runs from the end of its put (the answer) to the event's arrival, 0 when
 * the event came first. Each put's value starts with its number (4 bytes, big-endian), so an
 * event is matched to its put. The run ends when every watcher has seen every put, or after
 * 10 s without an event, with the missing events reported as errors (with the feed's checks of
 * every event, watch_feed.ts).
 */
import type { Rand } from "../../lib/base/rand.ts";
import type { ConnPool } from "./conns.ts";
import type { H2GrpcConn } from "./h2_grpc.ts";
import { keyFor } from "./keys.ts";
import { clientWatchFeed, h2WatchFeed, type OnEvent } from "./watch_feed.ts";
import type { RawRun, WorkloadOptions } from "./workloads.ts";

/** How long the run waits for the next event before it declares the rest lost. */
const STALL_MS = 10_000;

/** Runs the paced watch workload at `rate` puts per second. */
export async function runWatchPaced(
  pool: ConnPool,
  o: WorkloadOptions,
  rand: Rand,
  rate: number,
  h2: H2GrpcConn[] | undefined,
): Promise<RawRun> {
  if (o.valSize < 4) throw new Error("watch --put-rate needs --val-size >= 4 (the put's number)");
  const key = keyFor(o.keySpaceSize, o.keySize);
  const base = rand.bytes(o.valSize);
  const watchers = o.clients * o.watchPerStream;
  const want = o.total * watchers;
  const arrived = new Float64Array(want);
  const putOf = new Uint32Array(want);
  const putEnd = new Float64Array(o.total);
  let count = 0;
  let lastSeen = performance.now();
  let allSeen: (() => void) | undefined;
  const onEvent: OnEvent = (_mod, v, vs, ve) => {
    // the clock per event, not per read (feed.now()): the latency is the point of this workload,
    // and an event that came with its put's answer is still handled after it
    const now = performance.now();
    lastSeen = now;
    if (ve - vs < 4) return;
    const i = ((v[vs] << 24) >>> 0) + (v[vs + 1] << 16) + (v[vs + 2] << 8) + v[vs + 3];
    if (i >= o.total || count >= want) return;
    arrived[count] = now;
    putOf[count++] = i;
    if (count === want) allSeen?.();
  };
  const feed = h2 ? h2WatchFeed(h2, o, key, onEvent) : clientWatchFeed(pool, o, key, onEvent);
  const errors = feed.errors;
  try {
    await feed.open();
    const done = new Promise<void>((resolve) => (allSeen = resolve));
    const start = performance.now();
    let tokens = rate;
    let filled = start;
    for (let i = 0; i < o.total; i++) {
      // the limiter: one token per put, `rate` tokens a second, at most `rate` saved up
      for (;;) {
        const now = performance.now();
        tokens = Math.min(rate, tokens + ((now - filled) * rate) / 1000);
        filled = now;
        if (tokens >= 1) break;
        await new Promise((r) => setTimeout(r, Math.ceil(((1 - tokens) * 1000) / rate)));
      }
      tokens -= 1;
      const value = base.slice();
      value[0] = i >>> 24;
      value[1] = (i >>> 16) & 0xff;
      value[2] = (i >>> 8) & 0xff;
      value[3] = i & 0xff;
      try {
        await feed.put(i % o.clients, value);
      } catch (e) {
        const m = e instanceof Error ? e.message : String(e);
        errors.set(m, (errors.get(m) ?? 0) + 1);
      }
      putEnd[i] = performance.now();
    }
    // every event, or no progress for STALL_MS
    let stalled = false;
    while (count < want && !stalled) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        done,
        new Promise<void>((r) => (timer = setTimeout(r, 100))),
      ]);
      clearTimeout(timer);
      stalled = count < want && performance.now() - lastSeen > STALL_MS;
    }
    if (count < want) {
      errors.set(`watch: ${want - count} of ${want} events not seen`, want - count);
    }
    const lats = new Float64Array(count);
    for (let k = 0; k < count; k++) lats[k] = Math.max(0, arrived[k] - putEnd[putOf[k]]) / 1000;
    const seconds = (lastSeen - start) / 1000;
    return { latencies: lats, errors, seconds };
  } finally {
    await feed.close();
  }
}
