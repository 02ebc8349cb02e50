/**
 * Raft core throughput on a 3-node in-process cluster (all nodes on one core, in-memory
 * network and storage). Results and the reference figures: docs/perf.md.
 *   deno bench -A bench/raft_bench.ts          (Deno.bench: time per round)
 *   deno run -A bench/raft_throughput.ts       (entries/s and reads/s)
 */
import { EntryType } from "../lib/base/raftpb.ts";
import { decodeMessage, encodeMessage } from "../lib/raft/codec.ts";
import { MessageType, newMessage } from "../lib/raft/messages.ts";
import { BenchCluster, payloads } from "./raft_cluster.ts";

const one = payloads(1);
const batch = payloads(256);
const c1 = new BenchCluster();
const c256 = new BenchCluster();
const cr = new BenchCluster();
const ctx = new Uint8Array(8);
const ctxView = new DataView(ctx.buffer);
let readSeq = 0;

Deno.bench("raft: propose+commit 1 entry (100 B) on 3 nodes", { group: "raft" }, () => {
  c1.leader.propose(one[0]);
  c1.run();
});

Deno.bench("raft: propose+commit 256 entries (100 B each) on 3 nodes", { group: "raft" }, () => {
  c256.leader.proposeBatch(batch);
  c256.run();
});

Deno.bench("raft: ReadIndex round on 3 nodes", { group: "raft" }, () => {
  ctxView.setUint32(0, ++readSeq);
  cr.leader.readIndex(ctx.slice());
  cr.run();
});

// the transport encoding: one append of 256 x 100-byte entries
const appendMsg = newMessage({
  type: MessageType.App,
  to: 2n,
  from: 1n,
  term: 5,
  logTerm: 5,
  index: 1000,
  commit: 999,
  entries: batch.map((data, i) => ({ term: 5, index: 1001 + i, type: EntryType.Normal, data })),
});
const appendBytes = encodeMessage(appendMsg);

Deno.bench("raft codec: encode an append of 256 entries (100 B each)", { group: "codec" }, () => {
  encodeMessage(appendMsg);
});

Deno.bench("raft codec: decode an append of 256 entries (100 B each)", { group: "codec" }, () => {
  decodeMessage(appendBytes);
});
