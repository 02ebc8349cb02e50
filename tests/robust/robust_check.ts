/**
 * The checks on a real-process run's record: tests/sim's checkers, unchanged, on what the
 * clients and watchers recorded and the history read back from the cluster — linearizability
 * of the KV history, durability of acknowledged writes (at the revision they were answered
 * with, distinct revisions in real-time order), serializable reads, every watcher's events and
 * progress notifications against the history (segment by segment: a compacted response ends
 * one), the leases (`checkLeases`) and the compactions and past reads (`checkAdmin`); plus
 * convergence, hashKV agreement after defrags and defects of the read history.
 */
import { checkLinearizable } from "../sim/linearizability.ts";
import { checkDurability, checkSerializable } from "../sim/cluster_history.ts";
import type { AckedRevisions, SerialRead } from "../sim/cluster_history.ts";
import type { Change, HistoryView } from "../sim/history_archive.ts";
import type { KvOp } from "../sim/kv_history.ts";
import { checkCompacted, checkProgress, checkWatch, referenceEvents } from "../sim/watch_check.ts";
import { checkLeases, type LeaseRecord } from "../sim/lease_workload.ts";
import { type AdminRecords, checkAdmin } from "../sim/compaction_workload.ts";
import type { WatchLog } from "./watchers.ts";
import type { LeaseTimings } from "./lease_clients.ts";

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
  leases: LeaseRecord[];
  leaseTimings: Map<bigint, LeaseTimings>;
  /**
   * Moments (run ms) at or after which a leader may have been elected since the one before:
   * term changes as polled, and every fault's start and end.
   */
  elections: number[];
  /** The longest an answered lease call took (its effect lies within). */
  answeredWithinMs: number;
  /** The cluster's election timeout (a new leader extends every lease by it). */
  electionTimeoutMs: number;
  admin: AdminRecords;
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
  bad.push(...checkWatches(r));
  bad.push(...checkLeaseRecord(r));
  bad.push(...checkAdmin(r.admin, r.history));
  return bad;
}

/** Each watcher, segment by segment (a compacted response ends one, the next starts there). */
function checkWatches(r: RunRecord): string[] {
  const bad: string[] = [];
  const asked = new Set(r.admin.compactions.map((c) => c.rev));
  const compactedUpTo = Math.max(0, ...asked);
  for (const w of r.watches) {
    if (w.error !== undefined) bad.push(`${w.name} ended: ${w.error}`);
    const ref = referenceEvents(r.history, w.opts);
    const cuts = [...w.compacted, { rev: 0, after: w.responses.length }];
    let from = 0;
    let startRev = w.startRev;
    cuts.forEach((cut, k) => {
      const last = k === cuts.length - 1;
      const seg = {
        name: k === 0 ? w.name : `${w.name} (after its compacted response at ${startRev})`,
        startRev,
        responses: w.responses.slice(from, cut.after),
        compacted: last ? undefined : cut.rev,
      };
      bad.push(...checkCompacted(seg, asked));
      bad.push(...checkWatch(seg, ref, last ? r.finalRev : 0, compactedUpTo));
      const progress = w.progress.filter((p) => p.segment === k)
        .map((p) => ({ ...p, after: p.after - from }));
      for (const stream of new Set(progress.map((p) => p.stream))) {
        const mine = progress.filter((p) => p.stream === stream);
        bad.push(...checkProgress({ ...seg, progress: mine }, ref));
      }
      from = cut.after;
      startRev = cut.rev;
    });
  }
  return bad;
}

/**
 * tests/sim's lease checker on real-process bounds: a real run knows no moment of deletion,
 * only the last get that found a key and the first that found it gone. Too early is judged
 * from the latter (the key was gone by then), too late from the former (it was there then),
 * with every keep-alive's earliest effect for the one and latest for the other.
 */
function checkLeaseRecord(r: RunRecord): string[] {
  const known = (key: string) => {
    for (const l of r.leases) {
      const k = l.keys.find((x) => x.key === key);
      if (k !== undefined) return { l, k, seen: r.leaseTimings.get(l.id)?.seen.get(key) };
    }
    return undefined;
  };
  // gone by then: +Infinity when unknown (a put of unknown outcome may land after a get)
  const goneBy = seenView(r.history, (key) => {
    const f = known(key);
    return f?.k.rev === null ? Infinity : f?.seen?.absentRetMs ?? Infinity;
  });
  const thereAt = seenView(r.history, (key) => {
    const f = known(key);
    return f?.k.rev === null ? -Infinity : f?.seen?.presentCallMs ?? -Infinity;
  });
  const early = checkLeases(r.leases, goneBy);
  const late = checkLeases(
    r.leases.map((l) => {
      const t = r.leaseTimings.get(l.id);
      const cancelled = t?.cancelledMs ?? null;
      return {
        ...l,
        renewedAtMs: [...(t?.renewedByMs ?? []), ...(cancelled === null ? [] : [cancelled])],
      };
    }),
    thereAt,
    {
      // a real run sees elections, not promotions: its faults leave two of three members up,
      // so a new leader's first entry (its lessor's promotion) commits a round trip later
      promotions: [...r.elections].sort((a, b) => a - b),
      extendMs: r.electionTimeoutMs,
      answeredWithinMs: r.answeredWithinMs,
    },
  ).filter((v) => !v.includes("before the lease's TTL"));
  return [...new Set([...early, ...late])];
}

/** The history with the time of every lease key's deletion replaced by `seenMs(key)`. */
function seenView(h: HistoryView, seenMs: (key: string) => number): HistoryView {
  return {
    rev: () => h.rev(),
    at: (key, rev) => h.at(key, rev),
    keys: () => h.keys(),
    changes: (key): readonly Change[] =>
      h.changes(key).map((c) => c.kv === undefined ? { ...c, seenMs: seenMs(key) } : c),
  };
}
