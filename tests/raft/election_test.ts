/**
 * Elections: Raft §5.1-5.2 (terms, roles, randomized timeouts, one vote per term, up-to-date
 * check) and §9.6 / thesis §6.2 (PreVote, CheckQuorum, leader stickiness).
 */
import assert from "node:assert/strict";
import { type Entry, EntryType, type NodeId } from "../../lib/base/raftpb.ts";
import { Rand } from "../../lib/base/rand.ts";
import { MemoryStorage } from "../../lib/raft/memory_storage.ts";
import { type Message, MessageType, newMessage } from "../../lib/raft/messages.ts";
import { Raft, StateType } from "../../lib/raft/raft.ts";
import { bootstrap, Cluster, nodeIds } from "./cluster.ts";

function ent(index: number, term: number): Entry {
  return { index, term, type: EntryType.Normal, data: new Uint8Array() };
}

/** A bare Raft over a storage holding `terms` as its log. */
function raftWithLog(
  id: number,
  peers: number[],
  terms: number[],
  opts: { preVote?: boolean; checkQuorum?: boolean } = {},
): Raft {
  const s = new MemoryStorage({
    voters: peers.map(BigInt),
    learners: [],
    votersOutgoing: [],
    learnersNext: [],
    autoLeave: false,
  });
  s.append(terms.map((t, i) => ent(i + 1, t)));
  if (terms.length > 0) s.setHardState({ term: terms[terms.length - 1], vote: 0n, commit: 0 });
  return new Raft({
    id: BigInt(id),
    storage: s,
    rand: new Rand(id),
    electionTick: 10,
    heartbeatTick: 1,
    preVote: opts.preVote ?? false,
    checkQuorum: opts.checkQuorum ?? false,
  });
}

function take(r: Raft): Message[] {
  r.flushReadIndex();
  const m = r.msgs;
  r.msgs = [];
  return m;
}

Deno.test("§5.2: a follower campaigns after a randomized timeout in [e, 2e)", () => {
  const seen = new Set<number>();
  for (let seed = 1; seed <= 200; seed++) {
    const s = new MemoryStorage({
      voters: [1n, 2n, 3n],
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    });
    const r = new Raft({
      id: 1n,
      storage: s,
      rand: new Rand(seed),
      electionTick: 10,
      heartbeatTick: 1,
      preVote: false,
    });
    let ticks = 0;
    while (r.state === StateType.Follower) {
      r.tick();
      ticks++;
      assert.ok(ticks < 20, "campaigned within 2 election timeouts");
    }
    assert.ok(ticks >= 10, `campaigned after ${ticks} ticks, before the minimum`);
    seen.add(ticks);
    assert.equal(r.state, StateType.Candidate);
    assert.equal(r.term, 1, "a candidate increments its term");
    assert.equal(r.vote, 1n, "and votes for itself");
    const votes = take(r);
    assert.deepEqual(votes.map((m) => [m.type, m.to, m.term]), [[MessageType.Vote, 2n, 1], [
      MessageType.Vote,
      3n,
      1,
    ]]);
  }
  assert.ok(seen.size >= 8, `timeouts are spread over the range (saw ${[...seen]})`);
});

Deno.test("§5.2: elections succeed with a majority and fail without one (3 and 5 nodes)", () => {
  const table: { n: number; down: number[]; want: StateType; term: number }[] = [
    { n: 3, down: [], want: StateType.Leader, term: 2 },
    { n: 3, down: [3], want: StateType.Leader, term: 2 },
    { n: 3, down: [2, 3], want: StateType.PreCandidate, term: 1 },
    { n: 5, down: [4, 5], want: StateType.Leader, term: 2 },
    { n: 5, down: [3, 4, 5], want: StateType.PreCandidate, term: 1 },
  ];
  for (const tt of table) {
    const c = new Cluster(bootstrap(nodeIds(tt.n)));
    for (const id of tt.down) c.node(id).crash();
    c.campaign(1);
    const r = c.node(1).raw.raft;
    assert.equal(r.state, tt.want, JSON.stringify(tt));
    assert.equal(
      r.term,
      tt.term,
      `PreVote leaves the term alone without a quorum: ${JSON.stringify(tt)}`,
    );
  }
});

Deno.test("§5.2: one vote per term, first come first served", () => {
  const r = raftWithLog(1, [1, 2, 3], []);
  r.step(newMessage({ type: MessageType.Vote, from: 2n, to: 1n, term: 5, index: 0, logTerm: 0 }));
  let out = take(r);
  assert.equal(out[0].type, MessageType.VoteResp);
  assert.equal(out[0].reject, false);
  assert.equal(r.vote, 2n);
  r.step(newMessage({ type: MessageType.Vote, from: 3n, to: 1n, term: 5, index: 0, logTerm: 0 }));
  out = take(r);
  assert.equal(out[0].reject, true, "already voted for 2 in term 5");
  r.step(newMessage({ type: MessageType.Vote, from: 2n, to: 1n, term: 5, index: 0, logTerm: 0 }));
  assert.equal(
    take(r)[0].reject,
    false,
    "a repeated request from the same candidate is granted again",
  );
  r.step(newMessage({ type: MessageType.Vote, from: 3n, to: 1n, term: 6, index: 0, logTerm: 0 }));
  assert.equal(take(r)[0].reject, false, "a new term brings a new vote");
  assert.equal(r.term, 6);
});

Deno.test("§5.4.1: votes go only to candidates whose log is at least as up to date", () => {
  // voter log: terms [1, 2] (last index 2, last term 2)
  const table: { index: number; logTerm: number; grant: boolean }[] = [
    { index: 2, logTerm: 2, grant: true },
    { index: 3, logTerm: 2, grant: true },
    { index: 1, logTerm: 3, grant: true },
    { index: 1, logTerm: 2, grant: false },
    { index: 5, logTerm: 1, grant: false },
  ];
  for (const tt of table) {
    for (const t of [MessageType.Vote, MessageType.PreVote]) {
      const r = raftWithLog(1, [1, 2, 3], [1, 2]);
      r.step(
        newMessage({ type: t, from: 2n, to: 1n, term: 3, index: tt.index, logTerm: tt.logTerm }),
      );
      const out = take(r);
      assert.equal(out.length, 1);
      assert.equal(out[0].reject, !tt.grant, `${MessageType[t]} ${JSON.stringify(tt)}`);
    }
  }
});

Deno.test("§5.1-5.2: terms: a candidate yields to a leader of its term; any role yields to a higher term", () => {
  const r = raftWithLog(1, [1, 2, 3], []);
  r.becomeCandidate();
  assert.equal(r.term, 1);
  r.step(newMessage({ type: MessageType.App, from: 2n, to: 1n, term: 1, index: 0, logTerm: 0 }));
  assert.equal(r.state, StateType.Follower);
  assert.equal(r.lead, 2n);
  // a higher term turns even a leader into a follower (§5.1)
  const l = raftWithLog(1, [1, 2, 3], []);
  l.becomeCandidate();
  l.becomeLeader();
  l.step(newMessage({ type: MessageType.Heartbeat, from: 3n, to: 1n, term: 7 }));
  assert.equal(l.state, StateType.Follower);
  assert.equal(l.term, 7);
  assert.equal(l.lead, 3n);
  // stale-term messages are ignored (or answered so the stale sender learns the term)
  l.step(newMessage({ type: MessageType.Vote, from: 2n, to: 1n, term: 3, index: 9, logTerm: 9 }));
  assert.equal(l.term, 7);
  assert.equal(take(l).filter((m) => m.type === MessageType.VoteResp).length, 0);
});

Deno.test("§5.2: split votes are resolved by randomized timeouts (liveness)", () => {
  for (let seed = 1; seed <= 30; seed++) {
    const c = new Cluster(bootstrap(nodeIds(5), [], {}, seed));
    let ticks = 0;
    while (c.leader() === null) {
      c.tick();
      assert.ok(++ticks < 100, `seed ${seed}: no leader within 100 ticks`);
    }
    const l = c.leader()!;
    for (const n of c.nodes.values()) assert.equal(n.raw.raft.lead, l.id);
  }
});

Deno.test("PreVote: a partitioned node does not bump terms and does not depose the leader on rejoin", () => {
  const c = new Cluster(bootstrap(nodeIds(3)));
  c.campaign(1);
  const term = c.node(1).raw.raft.term;
  c.isolate(3);
  c.tick(100); // node 3 times out repeatedly, but PreVote needs a quorum first
  const n3 = c.node(3).raw.raft;
  assert.equal(n3.term, term, "isolated node kept its term");
  assert.equal(n3.state, StateType.PreCandidate);
  c.recover();
  c.tick(5);
  assert.equal(c.node(1).raw.raft.state, StateType.Leader, "leader undisturbed");
  assert.equal(c.node(1).raw.raft.term, term);
  assert.equal(n3.state, StateType.Follower);
  assert.equal(n3.lead, 1n);
});

Deno.test("without PreVote, the same rejoin disrupts the leader (the control case)", () => {
  const c = new Cluster(bootstrap(nodeIds(3), [], { preVote: false, checkQuorum: false }));
  c.campaign(1);
  const term = c.node(1).raw.raft.term;
  c.isolate(3);
  c.tick(100);
  assert.ok(c.node(3).raw.raft.term > term + 3, "terms climbed while isolated");
  c.recover();
  c.tick(30);
  assert.ok(c.node(1).raw.raft.term > term, "the leader was forced out of its term");
});

Deno.test("CheckQuorum: a leader that cannot hear a quorum steps down within an election timeout", () => {
  const c = new Cluster(bootstrap(nodeIds(3)));
  c.campaign(1);
  c.isolate(1);
  let ticks = 0;
  while (c.node(1).raw.raft.state === StateType.Leader) {
    c.node(1).raw.tick();
    c.deliver();
    assert.ok(++ticks <= 20, "stepped down within two election timeouts");
  }
  assert.equal(c.node(1).raw.raft.state, StateType.Follower);
  assert.equal(c.node(1).raw.raft.lead, 0n);
});

Deno.test("CheckQuorum: followers that hear a live leader ignore a disruptive vote (stickiness)", () => {
  const c = new Cluster(bootstrap(nodeIds(3), [], { preVote: false }));
  c.campaign(1);
  const term = c.node(1).raw.raft.term;
  // node 3 is cut off from the leader only, times out, and asks node 2 for votes
  c.cut(1, 3);
  for (let i = 0; i < 30; i++) {
    c.node(1).raw.tick();
    c.node(2).raw.tick();
    c.deliver();
  }
  c.node(3).raw.campaign();
  c.deliver();
  assert.equal(c.node(2).raw.raft.term, term, "node 2 ignored the higher-term vote request");
  assert.equal(c.node(1).raw.raft.state, StateType.Leader);
  assert.equal(c.node(1).raw.raft.term, term);
  assert.equal(c.node(3).raw.raft.state, StateType.Candidate);
});

Deno.test("a learner never campaigns", () => {
  const c = new Cluster(bootstrap([1n, 2n], [3n]));
  c.isolate(1);
  c.isolate(2);
  c.tick(100);
  assert.equal(c.node(3).raw.raft.state, StateType.Follower);
  assert.equal(c.node(3).raw.raft.term, 1);
});

export function idsOf(ms: Message[]): NodeId[] {
  return ms.map((m) => m.to);
}
