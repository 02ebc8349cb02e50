import assert from "node:assert/strict";
import { type Entry, EntryType } from "../../lib/base/raftpb.ts";
import { CompactedError, RaftInvariantError } from "../../lib/raft/errors.ts";
import { RaftLog } from "../../lib/raft/log.ts";
import { Unstable } from "../../lib/raft/log_unstable.ts";
import { MemoryStorage } from "../../lib/raft/memory_storage.ts";

function ent(index: number, term: number, data = ""): Entry {
  return { index, term, type: EntryType.Normal, data: new TextEncoder().encode(data) };
}
function terms(ents: Entry[]): number[] {
  return ents.map((e) => e.term);
}
function logWith(...ts: number[]): RaftLog {
  const l = new RaftLog(new MemoryStorage(), Infinity);
  l.append(ts.map((t, i) => ent(i + 1, t)));
  return l;
}

Deno.test("log: findConflict finds the first mismatching or new entry", () => {
  const table: [Entry[], number][] = [
    [[], 0],
    [[ent(1, 1), ent(2, 2), ent(3, 3)], 0],
    [[ent(2, 2), ent(3, 3)], 0],
    [[ent(1, 1), ent(2, 2), ent(3, 3), ent(4, 4)], 4],
    [[ent(3, 3), ent(4, 4), ent(5, 4)], 4],
    [[ent(1, 4), ent(2, 4)], 1],
    [[ent(2, 1), ent(3, 4)], 2],
    [[ent(3, 1), ent(4, 2), ent(5, 4)], 3],
  ];
  for (const [ents, want] of table) {
    assert.equal(
      logWith(1, 2, 3).findConflict(ents),
      want,
      JSON.stringify(ents.map((e) => [e.index, e.term])),
    );
  }
});

Deno.test("log: maybeAppend checks consistency, truncates conflicts, bounds commit (§5.3)", () => {
  // log: 1:1 2:2 3:3, committed 1
  const table: {
    index: number;
    logTerm: number;
    commit: number;
    ents: Entry[];
    want: number;
    wantCommit: number;
    wantTerms?: number[];
  }[] = [
    // mismatched prev entry: rejected
    { index: 3, logTerm: 2, commit: 3, ents: [ent(4, 4)], want: -1, wantCommit: 1 },
    { index: 4, logTerm: 3, commit: 3, ents: [ent(5, 4)], want: -1, wantCommit: 1 },
    // match with nothing new: commit bounded by the last new index
    { index: 3, logTerm: 3, commit: 3, ents: [], want: 3, wantCommit: 3 },
    { index: 2, logTerm: 2, commit: 3, ents: [], want: 2, wantCommit: 2 },
    { index: 3, logTerm: 3, commit: 4, ents: [ent(4, 4)], want: 4, wantCommit: 4 },
    // conflict at 3: truncated and replaced
    {
      index: 2,
      logTerm: 2,
      commit: 3,
      ents: [ent(3, 4), ent(4, 4)],
      want: 4,
      wantCommit: 3,
      wantTerms: [1, 2, 4, 4],
    },
    // duplicate old entries: no change
    {
      index: 1,
      logTerm: 1,
      commit: 1,
      ents: [ent(2, 2)],
      want: 2,
      wantCommit: 1,
      wantTerms: [1, 2, 3],
    },
  ];
  for (const tt of table) {
    const l = logWith(1, 2, 3);
    l.commitTo(1);
    const got = l.maybeAppend(tt.index, tt.logTerm, tt.commit, tt.ents);
    assert.equal(got, tt.want, JSON.stringify(tt));
    assert.equal(l.committed, tt.wantCommit, JSON.stringify(tt));
    if (tt.wantTerms) {
      assert.deepEqual(terms(l.slice(1, l.lastIndex() + 1, Infinity)), tt.wantTerms);
    }
  }
  // a conflict at or below commit is a broken leader, never silently accepted
  const l = logWith(1, 2, 3);
  l.commitTo(3);
  assert.throws(() => l.maybeAppend(1, 1, 3, [ent(2, 9)]), RaftInvariantError);
});

Deno.test("log: findConflictByTerm skips a whole term per probe (fast back-off)", () => {
  const l = logWith(1, 1, 1, 4, 4, 5, 5, 6);
  assert.deepEqual(l.findConflictByTerm(8, 6), [8, 6]);
  assert.deepEqual(l.findConflictByTerm(8, 5), [7, 5]);
  assert.deepEqual(l.findConflictByTerm(8, 3), [3, 1]);
  assert.deepEqual(l.findConflictByTerm(8, 0), [0, 0]);
  assert.deepEqual(l.findConflictByTerm(5, 4), [5, 4]);
});

Deno.test("log: isUpToDate compares last term, then length (§5.4.1)", () => {
  const l = logWith(1, 2, 3);
  const table: [number, number, boolean][] = [
    [2, 4, true], // higher term wins even if shorter
    [3, 4, true],
    [4, 4, true],
    [2, 2, false], // lower term loses even if longer
    [9, 2, false],
    [2, 3, false], // same term: shorter loses
    [3, 3, true],
    [4, 3, true],
  ];
  for (const [i, t, want] of table) assert.equal(l.isUpToDate(i, t), want, `${i}/${t}`);
});

Deno.test("log: commit counts only entries of the current term (§5.4.2)", () => {
  const l = logWith(1, 2, 3);
  assert.equal(l.maybeCommit(2, 3), false, "entry 2 is from term 2");
  assert.equal(l.committed, 0);
  assert.equal(l.maybeCommit(3, 3), true);
  assert.equal(l.committed, 3);
  assert.throws(() => l.commitTo(4), RaftInvariantError);
});

Deno.test("log: stable, unstable, compaction and slicing across both", () => {
  const s = new MemoryStorage();
  s.append([ent(1, 1), ent(2, 1), ent(3, 2)]);
  const l = new RaftLog(s, Infinity);
  l.append([ent(4, 2), ent(5, 3)]);
  assert.deepEqual(terms(l.slice(2, 6, Infinity)), [1, 2, 2, 3]);
  assert.deepEqual(l.unstableEntries().map((e) => e.index), [4, 5]);
  s.append(l.unstableEntries());
  l.stableTo(5, 3);
  assert.equal(l.unstableEntries().length, 0);
  // stableTo with a stale term (the entry was replaced meanwhile) is ignored
  l.append([ent(5, 4)]);
  l.stableTo(5, 3);
  assert.deepEqual(l.unstableEntries().map((e) => e.term), [4]);
  s.append(l.unstableEntries());
  l.stableTo(5, 4);
  l.commitTo(4);
  l.appliedTo(4);
  s.createSnapshot(3, {
    voters: [1n],
    learners: [],
    votersOutgoing: [],
    learnersNext: [],
    autoLeave: false,
  }, new Uint8Array());
  s.compact(3);
  assert.equal(l.firstIndex(), 4);
  assert.equal(l.term(3), 2, "the compaction point keeps its term");
  assert.equal(l.term(2), -1);
  assert.throws(() => l.slice(2, 4, Infinity), CompactedError);
  // size limits keep at least one entry
  assert.equal(l.slice(4, 6, 0).length, 1);
});

Deno.test("unstable: truncateAndAppend keeps the prefix before a conflict", () => {
  const u = new Unstable(5);
  u.truncateAndAppend([ent(5, 1), ent(6, 1), ent(7, 1)]);
  u.truncateAndAppend([ent(6, 2)]);
  assert.deepEqual(u.entries.map((e) => [e.index, e.term]), [[5, 1], [6, 2]]);
  u.truncateAndAppend([ent(4, 3)]);
  assert.equal(u.offset, 4);
  assert.deepEqual(u.entries.map((e) => [e.index, e.term]), [[4, 3]]);
  assert.equal(u.maybeTerm(4), 3);
  assert.equal(u.maybeTerm(5), -1);
  u.restore({
    data: new Uint8Array(),
    metadata: {
      index: 10,
      term: 4,
      confState: {
        voters: [],
        learners: [],
        votersOutgoing: [],
        learnersNext: [],
        autoLeave: false,
      },
    },
  });
  assert.equal(u.maybeTerm(10), 4);
  assert.equal(u.maybeFirstIndex(), 11);
  assert.equal(u.maybeLastIndex(), 10);
});

Deno.test("memory storage: append replaces suffixes, compacts, and rejects gaps", () => {
  const s = new MemoryStorage();
  s.append([ent(1, 1), ent(2, 1), ent(3, 1)]);
  s.append([ent(2, 2)]);
  assert.equal(s.lastIndex(), 2);
  assert.equal(s.term(2), 2);
  assert.throws(() => s.append([ent(5, 2)]), RaftInvariantError);
  s.append([ent(3, 2), ent(4, 2)]);
  s.compact(2);
  assert.equal(s.firstIndex(), 3);
  assert.throws(() => s.entries(2, 4, Infinity), CompactedError);
  assert.deepEqual(s.entries(3, 5, Infinity).map((e) => e.index), [3, 4]);
  // appending entries that are partly compacted keeps only the new part
  s.append([ent(2, 2), ent(3, 2), ent(4, 2), ent(5, 3)]);
  assert.equal(s.lastIndex(), 5);
  assert.equal(s.firstIndex(), 3);
});
