/** The transport encoding of raft messages: round trips, and refusal of malformed frames. */
import assert from "node:assert/strict";
import { type Entry, EntryType } from "../../lib/base/raftpb.ts";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { decodeMessage, encodedSize, encodeMessage } from "../../lib/raft/codec.ts";
import { type Message, MessageType, newMessage } from "../../lib/raft/messages.ts";
import { bootstrap, bytes, Cluster, joinerStorage, nodeIds, SimNode, text } from "./cluster.ts";
import { ConfChangeType } from "../../lib/raft/confchange.ts";

function randomMessage(r: Rand): Message {
  const counter = () => r.chance(0.1) ? Number.MAX_SAFE_INTEGER - r.int(3) : r.int(1 << 30);
  const entries: Entry[] = [];
  const n = r.chance(0.5) ? 0 : r.int(5);
  for (let i = 0; i < n; i++) {
    entries.push({ term: counter(), index: counter(), type: r.int(3), data: r.bytes(r.int(40)) });
  }
  const ids = () => Array.from({ length: r.int(4) }, () => r.u64());
  return newMessage({
    type: r.int(19),
    to: r.u64(),
    from: r.u64(),
    term: counter(),
    logTerm: counter(),
    index: counter(),
    commit: counter(),
    rejectHint: counter(),
    reject: r.chance(0.5),
    entries,
    context: r.chance(0.5) ? r.bytes(r.int(20)) : null,
    snapshot: r.chance(0.3)
      ? {
        data: r.bytes(r.int(64)),
        metadata: {
          index: counter(),
          term: counter(),
          confState: {
            voters: ids(),
            learners: ids(),
            votersOutgoing: ids(),
            learnersNext: ids(),
            autoLeave: r.chance(0.5),
          },
        },
      }
      : null,
  });
}

Deno.test("codec: random messages round-trip exactly", () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const r = new Rand(seed);
  for (let i = 0; i < 2000; i++) {
    const m = randomMessage(r);
    const b = encodeMessage(m);
    assert.equal(b.length, encodedSize(m));
    assert.deepEqual(decodeMessage(b), m, `seed=${seed} message ${i}`);
  }
});

Deno.test("codec: truncated, corrupted or trailing input is a RangeError, never a crash", () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const r = new Rand(seed);
  for (let i = 0; i < 200; i++) {
    const b = encodeMessage(randomMessage(r));
    for (let cut = 0; cut < b.length; cut += 1 + r.int(4)) {
      assert.throws(() => decodeMessage(b.subarray(0, cut)), RangeError, `seed=${seed} cut ${cut}`);
    }
    const longer = new Uint8Array(b.length + 1);
    longer.set(b);
    assert.throws(() => decodeMessage(longer), /trailing/);
    for (let k = 0; k < 10; k++) {
      const bad = b.slice();
      bad[r.int(bad.length)] ^= 1 << r.int(8);
      try {
        decodeMessage(bad); // a flipped bit in a payload still decodes: that is fine
      } catch (err) {
        assert.ok(err instanceof RangeError, `seed=${seed}: ${err}`);
      }
    }
  }
});

Deno.test("codec: counters beyond 2^53-1 are refused both ways", () => {
  const m = newMessage({ type: MessageType.App, to: 1n, from: 2n, term: 2 ** 53 });
  assert.throws(() => encodeMessage(m), /term .* not a non-negative safe integer/);
  const ok = encodeMessage(newMessage({ type: MessageType.App, to: 1n, from: 2n, term: 1 }));
  ok[3 + 16 + 6] = 0x20; // term's high word becomes 0x00200000: 2^53
  assert.throws(() => decodeMessage(ok), /term exceeds 2\^53-1/);
  assert.throws(() => decodeMessage(new Uint8Array([9])), /unknown format/);
  const entry: Entry = { term: 1, index: 1, type: EntryType.Normal, data: new Uint8Array() };
  const huge = encodeMessage(
    newMessage({ type: MessageType.App, to: 1n, from: 2n, entries: [entry] }),
  );
  new DataView(huge.buffer).setUint32(3 + 16 + 40, 0xffffffff, true); // entry count
  assert.throws(() => decodeMessage(huge), /truncated/);
});

Deno.test("codec: a cluster whose every message crosses the wire encoding works end to end", () => {
  const c = new Cluster(bootstrap(nodeIds(3)));
  c.wire = (m) => decodeMessage(encodeMessage(m));
  c.campaign(1);
  for (let i = 0; i < 10; i++) c.node(2).raw.propose(bytes(`v${i}`));
  c.deliver();
  c.node(3).raw.readIndex(bytes("read"));
  c.deliver();
  assert.equal(text(c.node(3).readStates[0].context), "read");
  c.node(1).compact();
  c.add(new SimNode(4n, joinerStorage(), {}, 4));
  c.node(1).raw.proposeConfChange({
    type: ConfChangeType.AddLearnerNode,
    nodeId: 4n,
    context: new Uint8Array(),
  });
  c.deliver();
  c.tick(3);
  assert.equal(
    c.node(4).appliedIndex,
    c.node(1).appliedIndex,
    "caught up by snapshot over the wire",
  );
  c.node(1).raw.transferLeader(3n);
  c.deliver();
  assert.equal(c.node(3).raw.raft.state, 2);
  for (const n of [1, 2, 3]) assert.equal(c.node(n).appliedData.length, 10);
});
