/**
 * The server's failure counters under etcd's meanings, which a healthy run never moves:
 * late heartbeats, failed proposals and pending ones, failed and slow read rounds.
 */
import assert from "node:assert/strict";
import { HeartbeatDetector } from "../../lib/server/heartbeat_detector.ts";
import { Waits } from "../../lib/server/waits.ts";
import { READ_INDEX_RETRY_MS, ReadRounds } from "../../lib/server/read_rounds.ts";
import { SimClock } from "../../lib/io/clock.ts";
import { DropReason, MessageType, newMessage, ProposalDroppedError } from "../../lib/raft/mod.ts";
import { Errors } from "../../lib/base/errors.ts";

/** A counter sink that remembers its total. */
function counter(): { add(by?: number): void; n: number } {
  return {
    n: 0,
    add(by = 1) {
      this.n += by;
    },
  };
}

Deno.test("heartbeats: one sent more than two intervals after the last to that peer is late", () => {
  const d = new HeartbeatDetector(100);
  const hb = (to: bigint) => newMessage({ type: MessageType.Heartbeat, to });
  const app = newMessage({ type: MessageType.App, to: 2n });
  assert.equal(d.late([hb(2n), hb(3n)], 0), 0); // first ones: nothing to compare with
  assert.equal(d.late([hb(2n), app], 200), 0); // exactly 2x: on time
  assert.equal(d.late([hb(2n), hb(3n)], 350), 1); // peer 3 waited 350 ms, peer 2 150 ms
  assert.equal(d.late([app, app], 5000), 0); // other messages are not heartbeats
  d.reset(); // leadership lost and regained: the gap does not count
  assert.equal(d.late([hb(2n)], 9000), 0);
});

Deno.test("waits: timed out, dropped and leader-change proposals count as failed; pending", async () => {
  const failed = counter();
  const w = new Waits<number>(0, failed);
  const p1 = w.register(1n, 100);
  const p2 = w.register(2n, 200);
  const p3 = w.register(3n, 300);
  const p4 = w.register(4n, 400);
  assert.equal(w.pending, 4);
  w.settle(1n, { value: 7 }); // applied: not a failure, even with an error outcome below
  w.settle(2n, { error: Errors.keyNotFound() });
  assert.equal(await p1, 7);
  await assert.rejects(p2);
  assert.equal(failed.n, 0);
  w.expire(300); // 3's deadline passed
  await assert.rejects(p3, (e) => e === Errors.timeout() || /timed out/.test(String(e)));
  assert.equal(failed.n, 1);
  w.fail(9n, Errors.noLeader()); // nobody waits on 9: nothing failed
  assert.equal(failed.n, 1);
  w.failProposals(Errors.leaderChanged());
  await assert.rejects(p4);
  assert.equal(failed.n, 2);
  assert.equal(w.pending, 0);
});

Deno.test("read rounds: a round retried is slow; one that times out or finds no leader failed", async () => {
  const clock = new SimClock();
  const failed = counter();
  const slow = counter();
  let leader = true;
  let ids = 0n;
  const rounds = new ReadRounds({
    clock,
    timeoutMs: 2000,
    readIndex: () => {
      if (!leader) throw new ProposalDroppedError(DropReason.NoLeader);
    },
    waitApplied: () => Promise.resolve(),
    nextId: () => ++ids,
    failed,
    slow,
  });
  const r1 = rounds.wait();
  clock.advance(READ_INDEX_RETRY_MS); // unanswered: asked again
  assert.equal(slow.n, 1);
  clock.advance(2000 - READ_INDEX_RETRY_MS); // unanswered until the timeout
  await assert.rejects(r1);
  assert.equal(failed.n, 1);
  leader = false;
  await assert.rejects(rounds.wait());
  assert.equal(failed.n, 2);
  rounds.close(Errors.stopped());
});
