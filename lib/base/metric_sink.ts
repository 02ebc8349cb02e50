/**
 * What the lower layers (WAL, backend, MVCC, lessor, snapshots, the server) are given to
 * report measurements through, without knowing about metrics: the API layer passes in its
 * Prometheus counters and histograms, which have these shapes. Every sink is optional, and a
 * layer given none measures nothing (not even the time), so tests and tools pay nothing.
 */

/** Counts events or bytes (a counter, or a gauge that only grows, as etcd's WAL bytes). */
export interface CountSink {
  add(by?: number): void;
}

/** Records observations, such as a duration in seconds (a histogram). */
export interface ObserveSink {
  observe(value: number): void;
}

/** Seconds since `startMs` (a `performance.now()` reading), for duration sinks. */
export function secondsSince(startMs: number): number {
  return (performance.now() - startMs) / 1000;
}
