/**
 * The checks at the end of a whole-cluster run, once everything is healed and every member
 * applied everything: convergence (same hashKV at the same revision everywhere), the run's
 * record against the leader's revision, damaged frames and snapshots never taken in,
 * linearizability of the KV history, durability of acknowledged writes, serializable reads,
 * leases, compactions and defrags, and every watcher's guarantees. Also what a run that failed
 * reports about each member. Violations are listed in the order the run always listed them.
 */
import type { Member } from "../../lib/server/member.ts";
import type { SimCluster } from "../cluster/sim_cluster.ts";
import type { KvClients } from "./kv_workload.ts";
import { checkLinearizable } from "./linearizability.ts";
import {
  checkCompacted,
  checkProgress,
  checkWatch,
  referenceEvents,
  type WatchRecord,
} from "./watch_check.ts";
import type { HistoryArchive } from "./history_archive.ts";
import { checkLeases, type LeaseRecord } from "./lease_workload.ts";
import { type AdminRecords, checkAdmin } from "./compaction_workload.ts";
import { checkDurability, checkSerializable, dropUnapplied } from "./cluster_history.ts";

/** The history each watcher must see, per combination of options (computed once each). */
export function watchReferences(
  archive: HistoryArchive,
): (w: WatchRecord) => ReturnType<typeof referenceEvents> {
  const refs = new Map<string, ReturnType<typeof referenceEvents>>();
  return (w: WatchRecord) => {
    const k = JSON.stringify(w.opts);
    if (!refs.has(k)) refs.set(k, referenceEvents(archive, w.opts));
    return refs.get(k)!;
  };
}

/** What the final checks read: the healed cluster and everything the run recorded. */
export interface FinalState {
  c: SimCluster;
  /** The running members that have not stopped by themselves. */
  running(): Member[];
  archive: HistoryArchive;
  /** The leader's revision once every member applied everything. */
  finalRev: number;
  kv: KvClients;
  leases: LeaseRecord[];
  admin: AdminRecords;
  /** When a member became leader (its lessor then extends every lease). */
  promotions: number[];
  unprimary: [number, number][];
  /** How long a client waits for an answer. */
  clientTimeoutMs: number;
  /** Every watcher of the run. */
  watchers: readonly WatchRecord[];
  /** The history watcher `w` must see (watchReferences). */
  refOf(w: WatchRecord): ReturnType<typeof referenceEvents>;
  /** Whether `w` is still watching (it must then have seen up to `finalRev`). */
  live(w: WatchRecord): boolean;
}

/**
 * Adds the violations the run's final state shows to `violations` (the run's own list, as
 * each check ends: a check that throws leaves those before it listed).
 */
export function finalChecks(s: FinalState, violations: string[]): void {
  const { c, running, archive, finalRev, kv, leases, admin, refOf, live } = s;
  const hashes = running().map((m) =>
    `${m.config.name}: rev ${m.store.rev()} hash ${m.store.hashKV(0).hash}`
  );
  if (new Set(running().map((m) => `${m.store.rev()}/${m.store.hashKV(0).hash}`)).size !== 1) {
    violations.push(`members did not converge: ${hashes.join(", ")}`);
  }
  if (archive.rev() !== finalRev) {
    violations.push(
      `the run recorded revisions up to ${archive.rev()}, the leader has ${finalRev}`,
    );
  }
  violations.push(...archive.violations);
  if (c.net.frameDamage.applied > 0) {
    violations.push(
      `${c.net.frameDamage.applied} message frame(s) cut in transit were decoded as messages`,
    );
  }
  if (c.net.snapshotDamage.stored > 0) {
    violations.push(
      `${c.net.snapshotDamage.stored} snapshot(s) damaged in transit were stored by their receiver`,
    );
  }
  const history = kv.answeredHistory();
  const lin = checkLinearizable(dropUnapplied(history, archive));
  if (!lin.ok) violations.push(`not linearizable on key ${lin.key}: ${lin.reason}`);
  violations.push(...checkDurability(history, kv.revisions, archive));
  violations.push(...checkSerializable(kv.serial, archive));
  violations.push(
    ...checkLeases(leases, archive, {
      promotions: s.promotions,
      unprimary: s.unprimary,
      extendMs: c.configs[0].electionTimeoutMs,
      answeredWithinMs: s.clientTimeoutMs,
    }),
  );
  violations.push(...checkAdmin(admin, archive));
  const compactRevs = new Set(admin.compactions.map((x) => x.rev));
  const maxCompacted = Math.max(0, ...compactRevs);
  for (const w of s.watchers) {
    violations.push(...checkWatch(w, refOf(w), live(w) ? finalRev : 0, maxCompacted));
    violations.push(...checkCompacted(w, compactRevs));
    violations.push(...checkProgress(w, refOf(w)));
  }
}

/**
 * What a run that failed reports about its members: a member whose applied index is behind
 * its installed snapshot (reads wait on it), then each member's state (down, or its indexes,
 * revision, term, leader and failure).
 */
export function describeMembers(c: SimCluster): string[] {
  const out: string[] = [];
  for (const m of c.live) {
    if (m.appliedIndex < m.snapshotIndex) {
      out.push(
        `${m.config.name}: applied index ${m.appliedIndex} behind its installed snapshot at ` +
          `${m.snapshotIndex} (reads waiting for an index up to it hang until a new entry applies)`,
      );
    }
  }
  out.push(
    ...c.members.map((m, i) =>
      m === null
        ? `  ${c.configs[i].name}: down`
        : `  ${m.config.name}: applied ${m.appliedIndex} commit ${m.commitIndex} snapshot ` +
          `${m.snapshotIndex} rev ${m.store.rev()} term ${m.term} leader ${m.leader.toString(16)}` +
          `${m.failure ? ` failed: ${m.failure}` : ""}`
    ),
  );
  return out;
}
