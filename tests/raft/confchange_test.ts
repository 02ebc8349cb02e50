import assert from "node:assert/strict";
import {
  applyConfChangeTo,
  ConfChangeOutcome,
  ConfChangeType,
  decodeConfChange,
  encodeConfChange,
} from "../../lib/raft/confchange.ts";
import { ProgressTracker } from "../../lib/raft/tracker.ts";

Deno.test("confchange: encoding round-trips and rejects garbage", () => {
  const cc = {
    type: ConfChangeType.AddLearnerNode,
    nodeId: 0xfedcba9876543210n,
    context: new Uint8Array([1, 2, 3]),
  };
  const b = encodeConfChange(cc);
  assert.equal(b[0], 1);
  assert.deepEqual(decodeConfChange(b), cc);
  assert.throws(() => decodeConfChange(new Uint8Array(3)), RangeError);
  assert.throws(() => decodeConfChange(new Uint8Array([9, 0, 0, 0, 0, 0, 0, 0, 0, 1])), RangeError);
  assert.throws(
    () => decodeConfChange(new Uint8Array([1, 77, 0, 0, 0, 0, 0, 0, 0, 1])),
    RangeError,
  );
  assert.throws(() => encodeConfChange({ ...cc, nodeId: -1n }), RangeError);
});

Deno.test("confchange: add, promote, demote, remove; refuses to leave no voters", () => {
  const t = new ProgressTracker(8, 0);
  const step = (type: ConfChangeType, id: bigint) =>
    applyConfChangeTo(t, { type, nodeId: id, context: new Uint8Array() }, 10);
  assert.equal(step(ConfChangeType.AddNode, 1n), ConfChangeOutcome.Applied);
  assert.equal(step(ConfChangeType.AddNode, 1n), ConfChangeOutcome.NoOp);
  assert.equal(step(ConfChangeType.AddLearnerNode, 2n), ConfChangeOutcome.Applied);
  assert.deepEqual([t.voters, t.learners], [[1n], [2n]]);
  assert.equal(t.progress.get(2n)!.isLearner, true);
  assert.equal(t.progress.get(2n)!.next, 10);
  assert.equal(step(ConfChangeType.AddNode, 2n), ConfChangeOutcome.Applied, "promote");
  assert.deepEqual([t.voters, t.learners], [[1n, 2n], []]);
  assert.equal(t.progress.get(2n)!.isLearner, false);
  assert.equal(step(ConfChangeType.AddLearnerNode, 1n), ConfChangeOutcome.Applied, "demote");
  assert.deepEqual([t.voters, t.learners], [[2n], [1n]]);
  assert.equal(step(ConfChangeType.RemoveNode, 2n), ConfChangeOutcome.Refused, "last voter");
  assert.equal(step(ConfChangeType.AddLearnerNode, 2n), ConfChangeOutcome.Refused, "last voter");
  assert.equal(step(ConfChangeType.RemoveNode, 1n), ConfChangeOutcome.Applied);
  assert.equal(step(ConfChangeType.RemoveNode, 7n), ConfChangeOutcome.NoOp);
  assert.equal(step(ConfChangeType.UpdateNode, 2n), ConfChangeOutcome.NoOp);
  assert.equal(step(ConfChangeType.AddNode, 0n), ConfChangeOutcome.NoOp, "id 0 nullifies");
  assert.deepEqual([t.voters, t.learners, [...t.progress.keys()]], [[2n], [], [2n]]);
});
