/**
 * RawNode's Ready/advance contract, including what happens while a Ready is outstanding (the
 * driver is persisting it asynchronously and raft keeps stepping).
 */
import assert from "node:assert/strict";
import { EntryType } from "../../lib/base/raftpb.ts";
import { Rand } from "../../lib/base/rand.ts";
import { RaftInvariantError } from "../../lib/raft/errors.ts";
import { MemoryStorage } from "../../lib/raft/memory_storage.ts";
import { MessageType, newMessage } from "../../lib/raft/messages.ts";
import { RawNode } from "../../lib/raft/raw_node.ts";
import { ent } from "./raft_net.ts";

function follower(checkQuorum = true): { rn: RawNode; storage: MemoryStorage } {
  const storage = new MemoryStorage({
    voters: [1n, 2n, 3n],
    learners: [],
    votersOutgoing: [],
    learnersNext: [],
    autoLeave: false,
  });
  storage.append([ent(1, 1), ent(2, 1), ent(3, 1), ent(4, 1)]);
  storage.setHardState({ term: 1, vote: 0n, commit: 2 });
  const rn = new RawNode({
    id: 2n,
    storage,
    rand: new Rand(2),
    electionTick: 10,
    heartbeatTick: 1,
    checkQuorum,
  });
  return { rn, storage };
}

Deno.test("entries replaced while their Ready is being persisted are persisted again", () => {
  const { rn, storage } = follower();
  rn.step(
    newMessage({
      type: MessageType.App,
      from: 1n,
      to: 2n,
      term: 2,
      index: 4,
      logTerm: 1,
      commit: 2,
      entries: [ent(5, 2), ent(6, 2), ent(7, 2)],
    }),
  );
  const rd1 = rn.ready();
  assert.deepEqual(rd1.entries.map((e) => [e.index, e.term]), [[5, 2], [6, 2], [7, 2]]);
  // meanwhile a new leader (term 3) overwrites 6 and 7
  rn.step(
    newMessage({
      type: MessageType.App,
      from: 3n,
      to: 2n,
      term: 3,
      index: 5,
      logTerm: 2,
      commit: 2,
      entries: [ent(6, 3), ent(7, 3)],
    }),
  );
  // the first batch finishes persisting (old entries) and is acknowledged
  storage.append(rd1.entries);
  rn.advance();
  const rd2 = rn.ready();
  // (5,2) is written again too: the acknowledgement of the stale batch is ignored as a whole
  assert.deepEqual(
    rd2.entries.map((e) => [e.index, e.term]),
    [[5, 2], [6, 3], [7, 3]],
    "the new entries are still owed to storage",
  );
  assert.ok(rd2.mustSync);
  // the ack for the new entries goes out only with (after) this batch
  const ack = rd2.messages.find((m) => m.type === MessageType.AppResp && m.to === 3n);
  assert.ok(ack !== undefined && ack.index === 7 && !ack.reject);
  storage.append(rd2.entries);
  rn.advance();
  assert.equal(storage.term(7), 3);
  assert.equal(rn.hasReady(), false);
});

Deno.test("ready() twice without advance() is a driver bug", () => {
  const { rn } = follower();
  rn.step(
    newMessage({
      type: MessageType.App,
      from: 1n,
      to: 2n,
      term: 2,
      index: 4,
      logTerm: 1,
      commit: 2,
      entries: [ent(5, 2)],
    }),
  );
  rn.ready();
  assert.throws(() => rn.ready(), RaftInvariantError);
  rn.advance();
  assert.throws(() => rn.advance(), RaftInvariantError);
});

Deno.test("Ready: hard state only when changed; mustSync only for term, vote or entries", () => {
  const { rn } = follower(false);
  assert.equal(rn.hasReady(), true, "committed entries 1..2 to apply on start");
  let rd = rn.ready();
  assert.deepEqual(rd.committedEntries.map((e) => e.index), [1, 2]);
  assert.equal(rd.hardState, null);
  rn.advance();
  assert.equal(rn.hasReady(), false);
  // a heartbeat that only advances commit: a HardState without mustSync
  rn.step(newMessage({ type: MessageType.Heartbeat, from: 1n, to: 2n, term: 1, commit: 4 }));
  rd = rn.ready();
  assert.deepEqual(rd.hardState, { term: 1, vote: 0n, commit: 4 });
  assert.equal(rd.mustSync, false);
  assert.deepEqual(rd.committedEntries.map((e) => e.index), [3, 4]);
  assert.deepEqual(rd.softState, { lead: 1n, raftState: 0 });
  rn.advance();
  // a vote: must be durable before the response leaves
  rn.step(newMessage({ type: MessageType.Vote, from: 3n, to: 2n, term: 5, index: 4, logTerm: 1 }));
  rd = rn.ready();
  assert.equal(rd.mustSync, true);
  assert.deepEqual(rd.hardState, { term: 5, vote: 3n, commit: 4 });
  assert.equal(rd.messages[0].type, MessageType.VoteResp);
  rn.advance();
  assert.equal(rn.status().applied, 4);
});

Deno.test("committed entries are handed out in size-bounded batches", () => {
  const storage = new MemoryStorage({
    voters: [1n],
    learners: [],
    votersOutgoing: [],
    learnersNext: [],
    autoLeave: false,
  });
  const big = new Uint8Array(1000);
  storage.append(
    Array.from(
      { length: 10 },
      (_, i) => ({ index: i + 1, term: 1, type: EntryType.Normal, data: big }),
    ),
  );
  storage.setHardState({ term: 1, vote: 1n, commit: 10 });
  const rn = new RawNode({
    id: 1n,
    storage,
    rand: new Rand(1),
    electionTick: 10,
    heartbeatTick: 1,
    maxCommittedSizePerReady: 3000,
  });
  const sizes: number[] = [];
  while (rn.hasReady()) {
    const rd = rn.ready();
    sizes.push(rd.committedEntries.length);
    rn.advance();
  }
  assert.deepEqual(sizes, [2, 2, 2, 2, 2]);
});
