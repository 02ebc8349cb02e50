/**
 * Raft core throughput on a 3-node in-process cluster (all nodes on one core, in-memory
 * network and storage). Results and the reference figures: docs/perf-raft.md.
 *   deno bench -A bench/raft_bench.ts          (Deno.bench: time per round)
 *   deno run -A bench/raft_throughput.ts       (entries/s and reads/s)
 */
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
