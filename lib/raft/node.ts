/**
 * The driver between raft and the server's I/O. It owns a RawNode and runs the Ready loop:
 * persist (one call, so one fsync, per batch) -> send -> apply -> advance. It performs no
 * I/O itself: persistence, the network and the state machine are injected (`NodeHooks`), so
 * the server plugs in the WAL and the transport and tests plug in a simulator.
 *
 * Ordering guarantees: messages of a batch are handed to `send` only after `persist` for the
 * same batch resolved, so no node acknowledges or announces state it could lose in a crash;
 * the exceptions (see `earlyMessages`) are a leader's replication, which goes out while its
 * own persist runs, as etcd's raftNode does (raft thesis §10.2.1), and requests a follower
 * forwards to the leader, which claim nothing about its own state. A leader's consecutive
 * appends to one follower within a batch go as one message, and so do a follower's forwarded
 * proposals (coalesce.ts). Committed entries are
 * applied only after the batch that carries them is persisted. Conf change entries are
 * applied to raft's membership by the driver, in log order, before `apply` sees them.
 */
import type { ConfState, Entry, HardState, NodeId, Snapshot } from "../base/raftpb.ts";
import { EntryType } from "../base/raftpb.ts";
import { coalesce } from "./coalesce.ts";
import { type ConfChange, ConfChangeOutcome, decodeConfChange } from "./confchange.ts";
import { type Message, MessageType } from "./messages.ts";
import { type ReadState, StateType } from "./raft.ts";
import { RawNode, type SoftState, type Status } from "./raw_node.ts";

/** What must be durable before the batch's messages go out. */
export interface PersistBatch {
  hardState: HardState | null;
  /** Entries to append; they replace any stored entries from entries[0].index on. */
  entries: Entry[];
  /** A snapshot received from the leader: replaces the log up to its index. */
  snapshot: Snapshot | null;
  /** False when only the commit index changed (no fsync needed). */
  mustSync: boolean;
}

/** A conf change entry the driver applied to raft's membership. */
export interface AppliedConfChange {
  index: number;
  change: ConfChange;
  outcome: ConfChangeOutcome;
  /** Why the change was refused (by validateConfChange or by raft), when it was. */
  refusal: string | null;
  /** The membership after this entry. */
  confState: ConfState;
}

/** What the state machine applies, in order: the snapshot (if any), then the entries. */
export interface ApplyBatch {
  snapshot: Snapshot | null;
  /** Committed entries, in log order (all types; empty Normal entries included). */
  entries: Entry[];
  confChanges: AppliedConfChange[];
}

/** The I/O the driver delegates. Each may be synchronous or return a promise. */
export interface NodeHooks {
  /** Durably stores the batch (the WAL: one fdatasync when mustSync). */
  persist(batch: PersistBatch): Promise<void> | void;
  /** Hands messages to the transport (must not block on the network). */
  send(messages: Message[]): void;
  /** Applies committed state; resolves when applied. */
  apply(batch: ApplyBatch): Promise<void> | void;
  /**
   * Vets a committed conf change before it takes effect (e.g. the member is unknown to the
   * server's cluster store). Return null to accept, or a reason to refuse: the change is then
   * applied as a no-op on this node (outcome Refused, with the reason). It must decide the same
   * way on every node, from replicated state only.
   */
  validateConfChange?(change: ConfChange, index: number): string | null;
  /** Confirmed reads: serve each once the applied index reaches its index. */
  readStates?(states: ReadState[]): void;
  /** Leadership or role changed. */
  softState?(state: SoftState): void;
}

/** Runs the Ready loop over injected I/O. */
export class Node {
  readonly raw: RawNode;
  readonly #hooks: NodeHooks;
  #running: Promise<void> | null = null;
  #failed: unknown = null;
  #batches = 0;
  /**
   * The term this node has persisted (-1 until its first HardState is: a restarted node must
   * win an election, and persist its new term, before it leads anyway).
   */
  #durableTerm = -1;

  constructor(raw: RawNode, hooks: NodeHooks) {
    this.raw = raw;
    this.#hooks = hooks;
  }

  get id(): NodeId {
    return this.raw.raft.id;
  }

  /** How many Ready batches were processed (each is one persist call). */
  get batches(): number {
    return this.#batches;
  }

  #check(): void {
    if (this.#failed !== null) {
      throw new Error("raft node stopped after an I/O failure", { cause: this.#failed });
    }
  }

  tick(): void {
    this.#check();
    this.raw.tick();
  }

  step(m: Message): void {
    this.#check();
    this.raw.step(m);
  }

  /** See RawNode.propose; throws ProposalDroppedError when refused. */
  propose(data: Uint8Array): void {
    this.#check();
    this.raw.propose(data);
  }

  proposeBatch(datas: readonly Uint8Array[]): void {
    this.#check();
    this.raw.proposeBatch(datas);
  }

  proposeConfChange(cc: ConfChange): void {
    this.#check();
    this.raw.proposeConfChange(cc);
  }

  readIndex(context: Uint8Array): void {
    this.#check();
    this.raw.readIndex(context);
  }

  transferLeader(id: NodeId): void {
    this.#check();
    this.raw.transferLeader(id);
  }

  /** The transport could not reach `id` (see RawNode.reportUnreachable). */
  reportUnreachable(id: NodeId): void {
    this.#check();
    this.raw.reportUnreachable(id);
  }

  /** A snapshot transfer to `id` finished (ok) or failed. */
  reportSnapshot(id: NodeId, ok: boolean): void {
    this.#check();
    this.raw.reportSnapshot(id, ok);
  }

  campaign(): void {
    this.#check();
    this.raw.campaign();
  }

  status(): Status {
    return this.raw.status();
  }

  /**
   * Processes Ready batches until there is nothing left. Concurrent callers share the
   * running loop; work that arrives while a batch is being persisted joins the next batch.
   * A failing hook stops the node for good (its durable state is then unknown).
   */
  process(): Promise<void> {
    this.#check();
    if (this.#running === null) {
      // the loop starts in a microtask, after #running is set; it clears #running in the same
      // synchronous step in which it finds nothing left, so work stepped in after that point
      // always starts a new loop instead of joining one that has already finished
      this.#running = Promise.resolve().then(() => this.#loop());
    }
    return this.#running;
  }

  async #loop(): Promise<void> {
    try {
      while (this.raw.hasReady()) {
        const rd = this.raw.ready();
        this.#batches++;
        if (rd.softState !== null) this.#hooks.softState?.(rd.softState);
        const raft = this.raw.raft;
        let messages = coalesce(rd.messages, raft.maxMsgSize);
        // A conf change takes effect when applied, so its commit must be durable first: a
        // node that restarts with the commit index before it is back in the old membership,
        // and when the change removed a voter that then stopped, a leader left alone could
        // never win that membership's vote again (a commit-only HardState is otherwise
        // written with the next save; etcd writes it unsynced, which a power loss drops).
        const confCommitted = rd.committedEntries.some((e) => e.type === EntryType.ConfChange);
        if (
          rd.hardState !== null || rd.entries.length > 0 || rd.snapshot !== null || confCommitted
        ) {
          const replicate = raft.state === StateType.Leader &&
            raft.term === this.#durableTerm && rd.snapshot === null;
          const early = earlyMessages(messages, rd.entries, replicate);
          if (early !== null) {
            this.#hooks.send(early.now);
            messages = early.later;
          }
          const p = this.#hooks.persist({
            hardState: rd.hardState,
            entries: rd.entries,
            snapshot: rd.snapshot,
            mustSync: rd.mustSync || confCommitted,
          });
          if (p !== undefined) await p;
          if (rd.hardState !== null) this.#durableTerm = rd.hardState.term;
        }
        if (messages.length > 0) this.#hooks.send(messages);
        if (rd.snapshot !== null || rd.committedEntries.length > 0) {
          const a = this.#hooks.apply({
            snapshot: rd.snapshot,
            entries: rd.committedEntries,
            confChanges: this.#applyConfChanges(rd.committedEntries),
          });
          if (a !== undefined) await a;
        }
        if (rd.readStates.length > 0) this.#hooks.readStates?.(rd.readStates);
        this.raw.advance();
      }
    } catch (err) {
      this.#failed = err;
      throw err;
    } finally {
      this.#running = null;
    }
  }

  /** Applies the conf change entries among `entries` to raft's membership, in order. */
  #applyConfChanges(entries: readonly Entry[]): AppliedConfChange[] {
    const out: AppliedConfChange[] = [];
    for (const e of entries) {
      if (e.type !== EntryType.ConfChange) continue;
      const change = decodeConfChange(e.data);
      const refusal = this.#hooks.validateConfChange?.(change, e.index) ?? null;
      if (refusal !== null) {
        // applied as a no-op (node id 0), so every node's raft stays in step
        const { confState } = this.raw.applyConfChange({ ...change, nodeId: 0n });
        out.push({
          index: e.index,
          change,
          outcome: ConfChangeOutcome.Refused,
          refusal,
          confState,
        });
        continue;
      }
      const { outcome, confState } = this.raw.applyConfChange(change);
      out.push({
        index: e.index,
        change,
        outcome,
        refusal: outcome === ConfChangeOutcome.Refused ? "it would leave no voters" : null,
        confState,
      });
    }
    return out;
  }
}

/**
 * The messages of a batch that may go out before the batch is persisted, and the rest; null
 * when none may (everything then waits for the persist, as for any other batch).
 *
 * Any node: the proposals and read requests it forwards to the leader (Prop, ReadIndex). They
 * say nothing about the sender's log, term or vote, so nothing the sender could lose in a crash
 * is announced by them; the leader treats them exactly as if they had come a moment later.
 *
 * A leader (`replicate`: the caller's check that this node leads, in a term it has already
 * persisted, and that the batch installs no snapshot): also its replication (App, Heartbeat)
 * whose commit index is at most its durable last index (the index before the batch's first
 * entry). Why that is safe:
 * - The leader's term is durable (persisted by an earlier batch: normally the candidate's
 *   batch, whose vote requests went out only after it; a single voter elects itself within
 *   one batch and then waits, see `#durableTerm`). So the node cannot come back from a crash
 *   in an older term and lead this term again, and no other node can lead it (a majority voted
 *   for this one): no other entry can ever have the same index and term as the ones sent,
 *   durable here or not.
 * - A follower persists before it acknowledges. The leader counts its own match at once
 *   (raft.appendEntry), so its commit index may cover entries of this batch that are not yet
 *   on its own disk, but that commit index reaches nobody and nothing before this batch is
 *   persisted: committed entries are applied (and clients answered) in a later batch, or in
 *   this one after `persist`; the messages that announce it are created after this `ready()`
 *   and go out with a later batch; and a message of this batch announcing a commit index
 *   past the durable index (a single voter replicating to learners, whose own entries commit
 *   at once) is held back by the check here. Once the persist resolves, the commit index
 *   counted the leader's entries truly: they are on its disk.
 * - If the leader crashes before its persist, it loses at most entries nobody treated as
 *   committed; followers that stored them keep them as uncommitted entries of its term, which
 *   a later leader commits or overwrites under raft's ordinary rules. A failed persist stops
 *   the node (see `#check`), so it never acts on the lost entries.
 * Everything else (acknowledgements, vote and read-index answers, TimeoutNow, snapshots)
 * waits for the persist.
 */
export function earlyMessages(
  messages: Message[],
  entries: readonly { index: number }[],
  replicate: boolean,
): { now: Message[]; later: Message[] } | null {
  const durable = entries.length > 0 ? entries[0].index - 1 : Number.MAX_SAFE_INTEGER;
  let now: Message[] | null = null;
  let later: Message[] | null = null;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    const t = m.type;
    const early = t === MessageType.Prop || t === MessageType.ReadIndex ||
      (replicate && (t === MessageType.App || t === MessageType.Heartbeat) &&
        m.commit <= durable);
    if (early) (now ??= []).push(m);
    else (later ??= []).push(m);
  }
  if (now === null) return null;
  return { now, later: later ?? [] };
}
