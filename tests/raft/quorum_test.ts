import assert from "node:assert/strict";
import { committedIndex, quorumSize, VoteResult, voteResult } from "../../lib/raft/quorum.ts";
import { Inflights } from "../../lib/raft/inflights.ts";

Deno.test("quorum: committed index is the highest index a majority acknowledged", () => {
  const table: [number[], number][] = [
    [[5], 5],
    [[5, 3], 3],
    [[5, 3, 1], 3],
    [[1, 3, 5], 3],
    [[2, 2, 9], 2],
    [[7, 6, 5, 4], 5],
    [[9, 0, 0, 9, 9], 9],
    [[1, 2, 3, 4, 5], 3],
    [[0, 0, 0], 0],
  ];
  for (const [acked, want] of table) {
    const ids = acked.map((_, i) => BigInt(i + 1));
    const got = committedIndex(ids, (id) => acked[Number(id) - 1]);
    assert.equal(got, want, `acked ${acked}`);
  }
  assert.equal(committedIndex([], () => 0), Infinity);
});

Deno.test("quorum: vote results are decided only when a majority is certain", () => {
  const Y = true, N = false;
  const table: [(boolean | undefined)[], VoteResult][] = [
    [[Y], VoteResult.Won],
    [[N], VoteResult.Lost],
    [[undefined], VoteResult.Pending],
    [[Y, undefined, undefined], VoteResult.Pending],
    [[Y, Y, undefined], VoteResult.Won],
    [[Y, N, undefined], VoteResult.Pending],
    [[Y, N, N], VoteResult.Lost],
    [[Y, Y, N, N], VoteResult.Lost],
    [[Y, Y, N, undefined], VoteResult.Pending],
    [[Y, Y, Y, N, N], VoteResult.Won],
    [[N, N, N, Y, undefined], VoteResult.Lost],
  ];
  for (const [votes, want] of table) {
    const ids = votes.map((_, i) => BigInt(i + 1));
    const m = new Map<bigint, boolean>();
    votes.forEach((v, i) => {
      if (v !== undefined) m.set(BigInt(i + 1), v);
    });
    assert.equal(voteResult(ids, m), want, `votes ${votes}`);
  }
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(quorumSize), [1, 2, 2, 3, 3, 4, 4]);
});

Deno.test("inflights: bounded by count and bytes, freed by acknowledged index", () => {
  const f = new Inflights(3, 0);
  f.add(1, 10);
  f.add(2, 10);
  f.add(5, 10);
  assert.ok(f.full());
  assert.throws(() => f.add(6, 1), RangeError);
  f.freeLE(2);
  assert.equal(f.count(), 1);
  f.add(7, 1);
  f.add(9, 1); // wraps around the ring
  assert.ok(f.full());
  f.freeLE(4); // nothing at or below 4 remains
  assert.equal(f.count(), 3);
  f.freeFirstOne();
  assert.equal(f.count(), 2);
  f.freeLE(100);
  assert.equal(f.count(), 0);
  const b = new Inflights(10, 100);
  b.add(1, 60);
  assert.ok(!b.full());
  b.add(2, 40);
  assert.ok(b.full(), "byte limit reached");
  b.freeLE(1);
  assert.ok(!b.full());
});
