/**
 * Auto-compaction, as etcd's v3compactor does it, on the leader only:
 * - periodic: keep `retention` ms of history. Revisions are sampled every tenth of
 *   min(retention, 1 h); once the first retention has passed, the revision sampled a
 *   retention ago is compacted, then again every min(retention, 1 h).
 * - revision: every 5 minutes, compact at (current revision - retention) unless that was the
 *   last one compacted.
 * A compaction that finds the revision already compacted counts as done.
 */
import type { Clock, Timer } from "../io/clock.ts";
import type { AutoCompactionMode } from "./config.ts";

/** What the compactor needs from the member. */
export interface CompactorHost {
  clock: Clock;
  /** The current revision. */
  rev(): number;
  /** True while this member leads (others pause). */
  isLeader(): boolean;
  /** Proposes a compaction; resolves when applied; rejects with etcd's errors. */
  compact(rev: number): Promise<void>;
  /** True when `err` is etcd's "required revision has been compacted". */
  isCompacted(err: unknown): boolean;
}

/** etcd's revision compactor interval. */
export const REVISION_INTERVAL_MS = 5 * 60 * 1000;
const HOUR_MS = 60 * 60 * 1000;

/** A running compactor. */
export interface Compactor {
  stop(): void;
}

/** Starts auto-compaction; retention 0 disables it (returns a compactor that does nothing). */
export function startCompactor(
  mode: AutoCompactionMode,
  retention: number,
  host: CompactorHost,
  revisionIntervalMs = REVISION_INTERVAL_MS,
): Compactor {
  if (retention <= 0) return { stop() {} };
  return mode === "periodic"
    ? periodic(retention, host)
    : revisionMode(retention, host, revisionIntervalMs);
}

function periodic(periodMs: number, host: CompactorHost): Compactor {
  const compactInterval = Math.min(periodMs, HOUR_MS);
  const retry = compactInterval / 10;
  const retentions = Math.floor(periodMs / retry) + 1;
  const revs: number[] = [];
  let lastSuccess = host.clock.now();
  let base = periodMs;
  let running = false;
  const record = () => {
    revs.push(host.rev());
    if (revs.length > retentions) revs.shift(); // revs[0] is the revision a period ago
  };
  record();
  const timer: Timer = host.clock.every(retry, () => {
    if (running) return;
    if (!host.isLeader() || host.clock.now() - lastSuccess < base) {
      record();
      return;
    }
    if (base === periodMs) base = compactInterval;
    const rev = revs[0];
    running = true;
    host.compact(rev).then(
      () => (lastSuccess = host.clock.now()),
      (err) => {
        if (host.isCompacted(err)) lastSuccess = host.clock.now();
        // otherwise retried after the next retry interval, as etcd
      },
    ).finally(() => {
      running = false;
      record();
    });
  });
  return { stop: () => timer.cancel() };
}

function revisionMode(retention: number, host: CompactorHost, intervalMs: number): Compactor {
  let prev = 0;
  let running = false;
  const timer = host.clock.every(intervalMs, () => {
    if (running || !host.isLeader()) return;
    const rev = host.rev() - retention;
    if (rev <= 0 || rev === prev) return;
    running = true;
    host.compact(rev).then(
      () => (prev = rev),
      (err) => {
        if (host.isCompacted(err)) prev = rev;
      },
    ).finally(() => (running = false));
  });
  return { stop: () => timer.cancel() };
}
