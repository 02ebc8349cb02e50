/**
 * A minimal synchronous network over bare Raft objects (no Ready cycle: entries stay in the
 * unstable log), for tests that set up exact logs and inspect individual messages.
 */
import { type Entry, EntryType } from "../../lib/base/raftpb.ts";
import { Rand } from "../../lib/base/rand.ts";
import { MemoryStorage } from "../../lib/raft/memory_storage.ts";
import { type Message, MessageType } from "../../lib/raft/messages.ts";
import { Raft } from "../../lib/raft/raft.ts";

export function ent(index: number, term: number, data = ""): Entry {
  return { index, term, type: EntryType.Normal, data: new TextEncoder().encode(data) };
}

/** A Raft whose durable log holds `terms` (entry i+1 has term terms[i]), at `term`. */
export function raftWithLog(
  id: number,
  peers: number[],
  terms: number[],
  term: number,
  opts: { preVote?: boolean; checkQuorum?: boolean; maxSizePerMsg?: number } = {},
): Raft {
  const s = new MemoryStorage({
    voters: peers.map(BigInt),
    learners: [],
    votersOutgoing: [],
    learnersNext: [],
    autoLeave: false,
  });
  s.append(terms.map((t, i) => ent(i + 1, t)));
  s.setHardState({ term, vote: 0n, commit: 0 });
  return new Raft({
    id: BigInt(id),
    storage: s,
    rand: new Rand(id),
    electionTick: 10,
    heartbeatTick: 1,
    preVote: opts.preVote ?? false,
    checkQuorum: opts.checkQuorum ?? false,
    maxSizePerMsg: opts.maxSizePerMsg,
  });
}

/** Takes a raft's outgoing messages (sending any owed read heartbeat first). */
export function take(r: Raft): Message[] {
  r.flushReadIndex();
  const m = r.msgs;
  r.msgs = [];
  return m;
}

/** Delivers messages among `rafts` until quiet; returns everything delivered. */
export function pump(
  rafts: Raft[],
  filter: (m: Message) => boolean = () => true,
): Message[] {
  const byId = new Map(rafts.map((r) => [r.id, r]));
  const log: Message[] = [];
  for (let round = 0; round < 10_000; round++) {
    const q: Message[] = [];
    for (const r of rafts) for (const m of take(r)) q.push(m);
    if (q.length === 0) return log;
    for (const m of q) {
      const to = byId.get(m.to);
      if (to === undefined || !filter(m)) continue;
      log.push(m);
      to.step(m);
    }
  }
  throw new Error("network did not quiesce");
}

/** The terms of a raft's whole log, from index 1 (compacted entries are not expected). */
export function logTerms(r: Raft): number[] {
  const out: number[] = [];
  for (let i = 1; i <= r.raftLog.lastIndex(); i++) out.push(r.raftLog.term(i));
  return out;
}

export { MessageType };
