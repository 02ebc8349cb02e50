/**
 * A member's apply of what raft committed (etcd's applyAll): the leader's snapshot first when
 * one came, then each entry in log order. Request entries go through the applier and answer
 * their proposers; conf changes go to the membership; a leader's empty entry of its own term
 * promotes its lessor (member_leases.ts); the consistent index is stored once per batch. It
 * lives apart from member.ts so the member keeps to wiring, and what apply touches of the
 * member is the explicit `MemberApplyHost` below.
 */
import { Errors } from "../base/errors.ts";
import { type Entry, EntryType, type Snapshot } from "../base/raftpb.ts";
import type { Clock } from "../io/clock.ts";
import type { ApplyBatch } from "../raft/mod.ts";
import type { Applied, Applier } from "./applier.ts";
import type { InstallGate } from "./install_gate.ts";
import type { MemberEvents } from "./member_events.ts";
import type { MemberReconfig } from "./member_reconfig.ts";
import { type ServerMetrics, SLOW_APPLY_MS } from "./server_metrics.ts";
import type { ServerState } from "./state.ts";
import type { Waits } from "./waits.ts";

/** What the apply reads and drives of its member. */
export interface MemberApplyHost {
  readonly clock: Clock;
  readonly applier: Applier;
  readonly waits: Waits<Applied>;
  /** Conf changes: the batch starts, each change applies, then answers its proposer. */
  readonly reconfig: Pick<MemberReconfig, "newBatch" | "apply" | "settle">;
  /** The lessor's promotion at a leader's first entry of its term. */
  readonly leases: { appliedEmptyEntry(term: number): void };
  readonly events: MemberEvents;
  readonly metrics: ServerMetrics;
  /** Reads wait here while the snapshot install has the store closed. */
  readonly installGate: InstallGate;
  /** The applied state (a snapshot install replaces it). */
  state(): ServerState;
  /** Installs the leader's snapshot: the member's state becomes the snapshot's. */
  installSnapshot(snap: Snapshot): Promise<void>;
  /** Takes a raft snapshot when enough entries were applied since the last one. */
  maybeSnapshot(applied: number): void;
}

/** Applies one batch of committed entries (and the snapshot before them) to the member. */
export async function applyBatch(h: MemberApplyHost, b: ApplyBatch): Promise<void> {
  h.reconfig.newBatch();
  if (b.snapshot !== null) {
    h.installGate.begin();
    try {
      await h.installSnapshot(b.snapshot);
    } catch (err) {
      h.installGate.close(Errors.stopped()); // no store is left: the member fails
      throw err;
    }
    h.installGate.end();
    // the snapshot is applied up to its index even when no entry follows it: reads that
    // wait for an index at or below it must not wait for the next entry
    h.waits.applied(b.snapshot.metadata.index);
  }
  const s = h.state();
  const ci = s.store.consistentIndex().index;
  let cc = 0;
  // The consistent index of the batch's request entries is stored once, after the last one
  // applied (two meta-bucket writes per entry were 3 % of a lone member's busy time under
  // put-1000). The loop is one synchronous step and the backend commits only at the end of
  // a step (batch_backend.ts), so no commit can hold an entry's writes without its index;
  // `finally` stores it for the entries applied before one that stops the member.
  let pending: Entry | null = null;
  try {
    for (const e of b.entries) {
      if (e.type === EntryType.ConfChange) {
        // conf changes are replayed into the membership even below the consistent index:
        // in log order they end in the state the backend already holds
        const change = b.confChanges[cc++];
        s.backend.faults?.hit("beforeApplyOneConfChange");
        h.reconfig.apply(change, e);
        if (e.index > ci) {
          s.store.setConsistentIndex(e.index, e.term);
          pending = null;
        }
        h.reconfig.settle(change);
        continue;
      }
      if (e.index <= ci) continue; // already in the backend: a replay applies nothing twice
      if (e.type !== EntryType.Normal || e.data.length === 0) {
        pending = e;
        if (e.type === EntryType.Normal) h.leases.appliedEmptyEntry(e.term);
        continue;
      }
      s.backend.faults?.hit("beforeApplyOneEntryNormal");
      const started = h.clock.now();
      const r = h.applier.applyEntry(e);
      pending = e;
      const took = h.clock.now() - started;
      h.events.applied(r, took);
      if (took > SLOW_APPLY_MS) h.metrics.slowApplies?.add();
      h.waits.settle(r.id, r.outcome);
    }
  } finally {
    if (pending !== null) s.store.setConsistentIndex(pending.index, pending.term);
  }
  if (b.entries.length > 0) {
    const last = b.entries[b.entries.length - 1].index;
    h.waits.applied(last);
    h.maybeSnapshot(last);
  }
}
