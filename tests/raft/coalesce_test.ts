/**
 * coalesce: a leader's consecutive appends to one follower within a Ready become one
 * App that says what the sequence said; anything that does not continue exactly stays apart;
 * and a Node's leader sends one App per follower for a burst of proposals, the cluster still
 * applying every one of them.
 */
import assert from "node:assert/strict";
import { type Entry, EntryType } from "../../lib/base/raftpb.ts";
import { coalesce } from "../../lib/raft/coalesce.ts";
import { type Message, MessageType, newMessage } from "../../lib/raft/messages.ts";
import { bytes } from "./cluster.ts";
import { appliedData, cluster } from "./node_cluster.ts";

function ents(from: number, to: number, term = 2, size = 10): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) {
    out.push({ index: i, term, type: EntryType.Normal, data: new Uint8Array(size) });
  }
  return out;
}

function app(to: bigint, index: number, logTerm: number, entries: Entry[], commit: number) {
  return newMessage({
    type: MessageType.App,
    to,
    from: 1n,
    term: 2,
    index,
    logTerm,
    entries,
    commit,
  });
}

Deno.test("coalesce: contiguous appends and commit-only appends to a follower merge", () => {
  const a1 = app(2n, 10, 1, ents(11, 11), 9);
  const b1 = app(3n, 10, 1, ents(11, 11), 9);
  const a2 = app(2n, 11, 2, ents(12, 13), 9);
  const b2 = app(3n, 11, 2, ents(12, 13), 9);
  const a3 = app(2n, 13, 2, [], 10); // the commit moved: an empty App
  const input = [a1, b1, a2, b2, a3];
  const copy = structuredClone(input);
  const out = coalesce(input, 1 << 20);
  assert.equal(out.length, 2);
  assert.deepEqual(
    out.map((m) => [m.to, m.index, m.logTerm, m.entries.map((e) => e.index), m.commit]),
    [[2n, 10, 1, [11, 12, 13], 10], [3n, 10, 1, [11, 12, 13], 9]],
  );
  assert.deepEqual(input, copy, "the input and its messages are not modified");
  assert.equal(coalesce([a1, b1], 1 << 20).length, 2);
});

Deno.test("coalesce: what does not continue exactly stays apart", () => {
  const a1 = app(2n, 10, 1, ents(11, 12), 9);
  const same = (ms: Message[]) => assert.equal(coalesce(ms, 1 << 20), ms);
  same([a1, app(2n, 11, 2, ents(12, 12), 9)]); // overlaps (a resend from a lower index)
  same([a1, app(2n, 13, 2, ents(14, 14), 9)]); // a gap
  same([a1, app(2n, 12, 1, ents(13, 13), 9)]); // logTerm is not the term of entry 12
  same([a1, { ...app(2n, 12, 2, ents(13, 13), 9), term: 3 }]); // another term
  const beat = newMessage({ type: MessageType.Heartbeat, to: 2n, from: 1n, term: 2, commit: 9 });
  same([a1, beat, app(2n, 12, 2, ents(13, 13), 9)]); // not the follower's previous message
  same([newMessage({ type: MessageType.Snap, to: 2n, from: 1n, term: 2 }), a1]);
  // within the size limit only; an App over it alone is left as it is
  const big = (i: number) => app(2n, i - 1, 2, ents(i, i, 2, 600), 9);
  const out = coalesce([big(11), big(12), big(13)], 1500);
  assert.deepEqual(out.map((m) => m.entries.length), [2, 1]);
  assert.deepEqual(coalesce([app(2n, 10, 1, ents(11, 11, 2, 5000), 9)], 1500).length, 1);
});

Deno.test("Node: a leader sends one App per follower for a burst of proposals", async () => {
  const { members, wire, pump } = cluster();
  const leader = members.get(1n)!;
  leader.node.campaign();
  await pump();
  for (let i = 0; i < 50; i++) leader.node.propose(bytes(`p${i}`));
  await leader.node.process();
  const apps = wire.filter((m) => m.type === MessageType.App);
  assert.deepEqual(apps.map((m) => [m.to, m.entries.length]), [[2n, 50], [3n, 50]]);
  await pump();
  const want = Array.from({ length: 50 }, (_, i) => `p${i}`);
  for (const m of members.values()) assert.deepEqual(appliedData(m), want);
});

Deno.test("coalesce: a follower's consecutive proposals to the leader merge", () => {
  const prop = (to: bigint, data: string) =>
    newMessage({
      type: MessageType.Prop,
      to,
      from: 2n,
      entries: [{ index: 0, term: 0, type: EntryType.Normal, data: bytes(data) }],
    });
  const ack = newMessage({ type: MessageType.AppResp, to: 1n, from: 2n, term: 2, index: 5 });
  const out = coalesce([prop(1n, "a"), prop(1n, "b"), ack, prop(1n, "c"), prop(1n, "d")], 1 << 20);
  assert.deepEqual(
    out.map((m) => [m.type, m.entries.map((e) => new TextDecoder().decode(e.data))]),
    [[MessageType.Prop, ["a", "b"]], [MessageType.AppResp, []], [MessageType.Prop, ["c", "d"]]],
  );
});

Deno.test("Node: a follower forwards a burst of proposals as one Prop", async () => {
  const { members, wire, pump } = cluster();
  members.get(1n)!.node.campaign();
  await pump();
  const follower = members.get(3n)!;
  for (let i = 0; i < 20; i++) follower.node.propose(bytes(`f${i}`));
  await follower.node.process();
  const props = wire.filter((m) => m.type === MessageType.Prop);
  assert.deepEqual(props.map((m) => [m.to, m.entries.length]), [[1n, 20]]);
  await pump();
  const want = Array.from({ length: 20 }, (_, i) => `f${i}`);
  for (const m of members.values()) assert.deepEqual(appliedData(m), want);
});
