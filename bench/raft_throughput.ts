/**
 * Prints committed entries per second (1 and 256 proposals per batch) and ReadIndex rounds
 * per second for a 3-node in-process cluster; every entry is committed by a quorum and
 * applied (counted) on all three nodes. Usage: deno run -A bench/raft_throughput.ts [secs]
 */
import { EntryType } from "../lib/base/raftpb.ts";
import { decodeMessage, encodeMessage } from "../lib/raft/codec.ts";
import { MessageType, newMessage } from "../lib/raft/messages.ts";
import { BenchCluster, payloads } from "./raft_cluster.ts";

const secs = Number(Deno.args[0] ?? "3");

function measure(name: string, unit: string, body: (c: BenchCluster) => number): void {
  const c = new BenchCluster();
  // warm up
  const warmEnd = performance.now() + 500;
  while (performance.now() < warmEnd) body(c);
  let done = 0;
  const start = performance.now();
  const end = start + secs * 1000;
  while (performance.now() < end) done += body(c);
  const elapsed = (performance.now() - start) / 1000;
  console.log(`${name}: ${Math.round(done / elapsed).toLocaleString("en-US")} ${unit}/s`);
}

const one = payloads(1);
const batch = payloads(256);
measure("commit, 1 entry per batch", "entries", (c) => {
  const before = c.applied;
  c.leader.propose(one[0]);
  c.run();
  return c.applied - before;
});
measure("commit, 256 entries per batch", "entries", (c) => {
  const before = c.applied;
  c.leader.proposeBatch(batch);
  c.run();
  return c.applied - before;
});
let seq = 0;
measure("ReadIndex, 1 read per round", "reads", (c) => {
  const before = c.reads;
  const ctx = new Uint8Array(8);
  new DataView(ctx.buffer).setUint32(0, ++seq);
  c.leader.readIndex(ctx);
  c.run();
  return c.reads - before;
});
measure("ReadIndex, 64 reads sharing a round", "reads", (c) => {
  const before = c.reads;
  for (let i = 0; i < 64; i++) {
    const ctx = new Uint8Array(8);
    new DataView(ctx.buffer).setUint32(0, ++seq);
    c.leader.readIndex(ctx);
  }
  c.run();
  return c.reads - before;
});

function measureOp(name: string, op: () => void): void {
  let done = 0;
  const start = performance.now();
  const end = start + secs * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) op();
    done += 100;
  }
  const elapsed = (performance.now() - start) / 1000;
  console.log(`${name}: ${Math.round(done / elapsed).toLocaleString("en-US")} ops/s`);
}

const app = newMessage({
  type: MessageType.App,
  to: 2n,
  from: 1n,
  term: 5,
  logTerm: 5,
  index: 1000,
  commit: 999,
  entries: batch.map((data, i) => ({ term: 5, index: 1001 + i, type: EntryType.Normal, data })),
});
const wire = encodeMessage(app);
measureOp("codec: encode an append of 256 entries", () => encodeMessage(app));
measureOp("codec: decode an append of 256 entries", () => decodeMessage(wire));
