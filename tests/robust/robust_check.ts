/**
 * The checks on a real-process run's record: tests/sim's checkers, unchanged, on what the
 * clients and watchers recorded and the history read back from the healed cluster —
 * linearizability of the KV history, durability of acknowledged writes (at the revision they
 * were answered with, distinct revisions in real-time order), serializable reads, and every
 * watcher's events and progress notifications against the history; plus convergence and defects of the read history.
 */
import { checkLinearizable } from "../sim/linearizability.ts";
import { checkDurability, checkSerializable } from "../sim/cluster_history.ts";
import type { AckedRevisions, SerialRead } from "../sim/cluster_history.ts";
import type { HistoryView } from "../sim/history_archive.ts";
import type { KvOp } from "../sim/kv_history.ts";
import { checkProgress, checkWatch, referenceEvents } from "../sim/watch_check.ts";
import type { WatchLog } from "./watchers.ts";

/** What a run recorded, and what it read back at the end. */
export interface RunRecord {
  ops: KvOp[];
  revs: AckedRevisions;
  serial: SerialRead[];
  watches: WatchLog[];
  history: HistoryView;
  /** The revision every member reached when healed. */
  finalRev: number;
  /** Convergence failures, watchers that fell short, defects of the read history. */
  problems: string[];
}

/** Every violation in the record (empty: the run passed). */
export function checkRecord(r: RunRecord): string[] {
  const bad = [...r.problems];
  if (r.history.rev() !== r.finalRev) {
    bad.push(`history read up to ${r.history.rev()}, the cluster is at ${r.finalRev}`);
  }
  const lin = checkLinearizable(r.ops);
  if (!lin.ok) bad.push(`not linearizable on ${lin.key}: ${lin.reason}`);
  bad.push(...checkDurability(r.ops, r.revs, r.history));
  bad.push(...checkSerializable(r.serial, r.history));
  for (const w of r.watches) {
    if (w.error !== undefined) bad.push(`${w.name} ended: ${w.error}`);
    const ref = referenceEvents(r.history, w.opts);
    bad.push(...checkWatch(w, ref, r.finalRev));
    for (const stream of new Set(w.progress.map((p) => p.stream))) {
      const progress = w.progress.filter((p) => p.stream === stream);
      bad.push(...checkProgress({ ...w, progress }, ref));
    }
  }
  return bad;
}
