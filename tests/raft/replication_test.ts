/**
 * Log replication and commitment: Raft §5.3 (consistency check, repair of follower logs,
 * fast back-off) and §5.4 (commit only by counting current-term replicas; leader
 * completeness), plus flow control (probe/replicate, inflight window, message size).
 */
import assert from "node:assert/strict";
import { type Message, MessageType, newMessage } from "../../lib/raft/messages.ts";
import { ProgressState } from "../../lib/raft/progress.ts";
import { CampaignType, StateType } from "../../lib/raft/raft.ts";
import { bootstrap, bytes, Cluster, nodeIds, text } from "./cluster.ts";
import { ent, logTerms, pump, raftWithLog, take } from "./raft_net.ts";

const LEADER_LOG = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
// Figure 7 of the Raft paper: possible follower logs when the leader of term 8 comes up
const FIGURE_7: Record<string, number[]> = {
  a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
  b: [1, 1, 1, 4],
  c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
  d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
  e: [1, 1, 1, 4, 4, 4, 4],
  f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
};

Deno.test("§5.3 (Figure 7): a new leader brings every kind of follower log into line", () => {
  for (const [name, followerLog] of Object.entries(FIGURE_7)) {
    const leader = raftWithLog(1, [1, 2, 3], LEADER_LOG, 7);
    const follower = raftWithLog(2, [1, 2, 3], followerLog, 7);
    leader.campaign(CampaignType.Election); // term 8
    take(leader);
    leader.step(newMessage({ type: MessageType.VoteResp, from: 3n, to: 1n, term: 8 }));
    assert.equal(leader.state, StateType.Leader, name);
    pump([leader, follower]);
    assert.deepEqual(logTerms(follower), [...LEADER_LOG, 8], `follower ${name}`);
    assert.equal(follower.raftLog.committed, 11, `follower ${name} learned the commit`);
  }
});

Deno.test("§5.3: conflict hints let the leader skip a whole term per round trip", () => {
  // follower f has 8 entries of terms 2 and 3 the leader does not have
  const leader = raftWithLog(1, [1, 2, 3], LEADER_LOG, 7);
  const follower = raftWithLog(2, [1, 2, 3], FIGURE_7.f, 7);
  leader.campaign(CampaignType.Election);
  take(leader);
  leader.step(newMessage({ type: MessageType.VoteResp, from: 3n, to: 1n, term: 8 }));
  const delivered = pump([leader, follower]);
  const rejects = delivered.filter((m) => m.type === MessageType.AppResp && m.reject);
  // without hints this takes one round trip per divergent entry (8); with them, few
  assert.ok(rejects.length <= 3, `${rejects.length} rejections`);
  assert.ok(rejects.length >= 1);
  assert.deepEqual(logTerms(follower), [...LEADER_LOG, 8]);
});

Deno.test("§5.3: a follower rejects an append whose previous entry does not match", () => {
  const f = raftWithLog(2, [1, 2, 3], [1, 2, 2], 2);
  const table: { index: number; logTerm: number; reject: boolean; hint?: number }[] = [
    { index: 3, logTerm: 2, reject: false },
    { index: 3, logTerm: 3, reject: true, hint: 3 },
    { index: 5, logTerm: 2, reject: true, hint: 3 },
    { index: 2, logTerm: 1, reject: true, hint: 1 },
    { index: 0, logTerm: 0, reject: false },
  ];
  for (const tt of table) {
    f.step(
      newMessage({
        type: MessageType.App,
        from: 1n,
        to: 2n,
        term: 2,
        index: tt.index,
        logTerm: tt.logTerm,
      }),
    );
    const [resp] = take(f);
    assert.equal(resp.type, MessageType.AppResp);
    assert.equal(resp.reject, tt.reject, JSON.stringify(tt));
    if (tt.hint !== undefined) assert.equal(resp.rejectHint, tt.hint, JSON.stringify(tt));
  }
});

Deno.test("§5.4.2 (Figure 8): entries of a previous term commit only with one of the current term", () => {
  // leader of term 4 holds an entry of term 2 replicated to a majority; it must not commit it
  // by counting, only once an entry of term 4 is committed on top of it
  const l = raftWithLog(1, [1, 2, 3], [1, 2], 3);
  const f = raftWithLog(2, [1, 2, 3], [1, 2], 3);
  l.campaign(CampaignType.Election); // term 4
  take(l);
  l.step(newMessage({ type: MessageType.VoteResp, from: 2n, to: 1n, term: 4 }));
  assert.equal(l.state, StateType.Leader);
  assert.equal(l.raftLog.lastIndex(), 3, "the leader appended an empty entry of term 4");
  // the follower acknowledges only index 2 (e.g. the append of 3 is still in flight)
  take(l);
  l.step(newMessage({ type: MessageType.AppResp, from: 2n, to: 1n, term: 4, index: 2 }));
  assert.equal(l.raftLog.committed, 0, "index 2 is on a majority but from term 2");
  l.step(newMessage({ type: MessageType.AppResp, from: 2n, to: 1n, term: 4, index: 3 }));
  assert.equal(l.raftLog.committed, 3, "the term-4 entry commits, and everything before it");
  void f;
});

Deno.test("§5.3: the leader commits once a majority stores an entry; followers learn it", () => {
  const c = new Cluster(bootstrap(nodeIds(5)));
  c.campaign(1);
  c.isolate(4);
  c.isolate(5);
  c.node(1).raw.propose(bytes("x"));
  c.deliver();
  assert.equal(c.node(1).appliedData.map(text).join(), "x", "3 of 5 is a majority");
  assert.equal(c.node(2).appliedData.length, 1);
  c.isolate(3);
  c.node(1).raw.propose(bytes("y"));
  c.deliver();
  assert.equal(c.node(1).appliedData.length, 1, "2 of 5 is not");
  c.recover();
  c.tick(2);
  for (const n of c.nodes.values()) {
    assert.deepEqual(n.appliedData.map(text), ["x", "y"], `node ${n.id}`);
  }
});

Deno.test("flow control: probe until a match, then pipeline within the inflight window", () => {
  const c = new Cluster(bootstrap(nodeIds(3), [], { maxInflightMsgs: 2, maxSizePerMsg: 1 }));
  c.campaign(1);
  const l = c.node(1).raw.raft;
  assert.equal(l.trk.progress.get(2n)!.state, ProgressState.Replicate);
  c.cut(1, 2);
  for (let i = 0; i < 5; i++) c.node(1).raw.propose(bytes(`e${i}`));
  const sent: Message[] = [];
  const msgs = c.node(1).handleReady();
  for (const m of msgs) if (m.to === 2n && m.type === MessageType.App) sent.push(m);
  assert.equal(sent.length, 2, "two appends in flight, then the window is full");
  assert.ok(sent.every((m) => m.entries.length === 1), "maxSizePerMsg keeps one entry per message");
  assert.ok(l.trk.progress.get(2n)!.isPaused());
  c.queue.push(...msgs.filter((m) => m.to !== 2n));
  c.recover();
  c.tick(3);
  assert.equal(c.node(2).appliedData.length, 5, "lost appends are recovered after heartbeats");
});

Deno.test("flow control: the inflight byte budget bounds what is in flight to a follower", () => {
  const c = new Cluster(bootstrap(nodeIds(3), [], { maxInflightBytes: 250, maxSizePerMsg: 1 }));
  c.campaign(1);
  c.cut(1, 2);
  for (let i = 0; i < 10; i++) c.node(1).raw.propose(new Uint8Array(100));
  const toTwo = c.node(1).handleReady().filter((m) => m.to === 2n && m.type === MessageType.App);
  assert.equal(toTwo.length, 3, "100 + 100 + 100 bytes reach the 250-byte budget");
  c.recover();
  c.tick(5);
  assert.equal(c.node(2).appliedData.length, 10);
});

Deno.test("§5.4: a stale leader's uncommitted entries are overwritten, committed ones never are", () => {
  const c = new Cluster(bootstrap(nodeIds(3)));
  c.campaign(1);
  c.node(1).raw.propose(bytes("committed"));
  c.deliver();
  c.isolate(1);
  c.node(1).raw.propose(bytes("lost"));
  c.deliver();
  // followers honour the old leader's lease for an election timeout, then elect a new one
  let ticks = 0;
  const newLeader = () => [c.node(2), c.node(3)].find((n) => n.raw.raft.state === StateType.Leader);
  while (newLeader() === undefined) {
    c.tick();
    assert.ok(++ticks < 50, "the majority side elected a leader");
  }
  newLeader()!.raw.propose(bytes("new"));
  c.deliver();
  c.recover();
  c.tick(12); // node 1 steps down (CheckQuorum) or learns the new term; its log is repaired
  for (const n of c.nodes.values()) {
    assert.deepEqual(n.appliedData.map(text), ["committed", "new"], `node ${n.id}`);
  }
});

Deno.test("maxUncommittedEntriesSize: a leader refuses proposals beyond its budget", () => {
  const c = new Cluster(bootstrap(nodeIds(3), [], { maxUncommittedEntriesSize: 100 }));
  c.campaign(1);
  c.isolate(1);
  const data = new Uint8Array(60);
  c.node(1).raw.propose(data); // the first proposal is always accepted
  assert.throws(() => c.node(1).raw.propose(data), /too many uncommitted/);
  c.recover();
  c.deliver();
  c.tick(2);
  c.node(1).raw.propose(data); // committed entries left the budget
});

export { ent };
