/**
 * Latency statistics the way etcd's benchmark report computes them (pkg/report/report.go):
 * the same percentile rule and the same 11-bucket histogram, so our figures read like etcd's.
 */

/** The percentiles etcd's report prints. */
export const PERCENTILES: readonly number[] = [10, 25, 50, 75, 90, 95, 99, 99.9];

/** A finished run's summary: latencies in seconds, sorted ascending. */
export interface Stats {
  /** Successful requests (one latency each). */
  count: number;
  /** Failed requests by error message. */
  errors: Map<string, number>;
  /** Wall time of the run in seconds. */
  totalSeconds: number;
  fastest: number;
  slowest: number;
  average: number;
  stddev: number;
  /** Successful requests per second of wall time. */
  rps: number;
  /** Sorted latencies in seconds. */
  latencies: Float64Array;
}

/**
 * Computes the summary of `latencies` (seconds, any order) over `totalSeconds` of wall time.
 * The array is copied and sorted.
 */
export function summarize(
  latencies: ArrayLike<number>,
  totalSeconds: number,
  errors: Map<string, number> = new Map(),
): Stats {
  const lats = Float64Array.from(latencies).sort();
  const n = lats.length;
  let sum = 0;
  for (const l of lats) sum += l;
  const average = n > 0 ? sum / n : 0;
  let dev = 0;
  for (const l of lats) dev += (l - average) * (l - average);
  return {
    count: n,
    errors,
    totalSeconds,
    fastest: n > 0 ? lats[0] : 0,
    slowest: n > 0 ? lats[n - 1] : 0,
    average,
    stddev: n > 0 ? Math.sqrt(dev / n) : 0,
    rps: totalSeconds > 0 ? n / totalSeconds : 0,
    latencies: lats,
  };
}

/**
 * etcd's percentile rule on sorted latencies: the p-th percentile is the first sample whose rank
 * i satisfies i*100/n >= p (0 when there is no such sample).
 */
export function percentiles(
  sorted: ArrayLike<number>,
  pcts: readonly number[] = PERCENTILES,
): number[] {
  const out = new Array<number>(pcts.length).fill(0);
  const n = sorted.length;
  let j = 0;
  for (let i = 0; i < n && j < pcts.length; i++) {
    const current = (i * 100) / n;
    while (j < pcts.length && current >= pcts[j]) {
      out[j] = sorted[i];
      j++;
    }
  }
  return out;
}

/** One histogram bucket: requests with latency <= `upper` (and above the previous bucket's). */
export interface Bucket {
  upper: number;
  count: number;
}

/**
 * etcd's histogram: 10 equal-width buckets from fastest to slowest plus a final bucket at
 * slowest, each counting the sorted samples at or below its bound not counted before.
 */
export function histogram(sorted: ArrayLike<number>, bucketCount = 10): Bucket[] {
  const n = sorted.length;
  if (n === 0) return [];
  const fastest = sorted[0];
  const slowest = sorted[n - 1];
  const width = (slowest - fastest) / bucketCount;
  const buckets: Bucket[] = [];
  for (let i = 0; i < bucketCount; i++) buckets.push({ upper: fastest + width * i, count: 0 });
  buckets.push({ upper: slowest, count: 0 });
  let b = 0;
  for (let i = 0; i < n;) {
    if (sorted[i] <= buckets[b].upper) {
      buckets[b].count++;
      i++;
    } else if (b < buckets.length - 1) {
      b++;
    } else {
      // Floating-point rounding cannot put a sample above `slowest`, but never loop forever.
      buckets[b].count++;
      i++;
    }
  }
  return buckets;
}
