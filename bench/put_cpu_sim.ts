/**
 * CPU per put of a lone member on a simulated disk (no fsync to wait for), so that a change to
 * the put path's code shows in CPU time even on a busy machine: batches of 100 concurrent
 * puts, five repetitions (the first warms up), each printed as CPU us per put.
 *
 *   deno run -A bench/put_cpu_sim.ts                      # this checkout
 *   ROOT=/work/main deno run -A bench/put_cpu_sim.ts      # another checkout's lib/, same run
 *
 * Used for the fault points' cost (docs/testing.md): alternate runs of two checkouts.
 */
import process from "node:process";
import { create } from "@bufbuild/protobuf";

const root = Deno.env.get("ROOT") ?? new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const { defaultConfig } = await import(`${root}/lib/server/config.ts`);
const { Member } = await import(`${root}/lib/server/member.ts`);
const { RequestKind } = await import(`${root}/lib/server/request.ts`);
const { PutRequestSchema } = await import(`${root}/proto/gen/etcdserverpb/rpc_pb.ts`);
const { SimDisk } = await import(`${root}/lib/io/sim_disk.ts`);

const cfg = defaultConfig("bench");
cfg.dataDir = "/bench/member";
const m = await Member.start(cfg, { log: () => {}, disk: new SimDisk().process() });
await m.ready;
const value = new Uint8Array(256);
const enc = new TextEncoder();
const batch = 100;
const rounds = Number(Deno.env.get("ROUNDS") ?? 300);
const out: number[] = [];
try {
  for (let rep = 0; rep < 5; rep++) {
    const c0 = process.cpuUsage();
    for (let r = 0; r < rounds; r++) {
      const ps = [];
      for (let i = 0; i < batch; i++) {
        ps.push(m.propose({
          kind: RequestKind.Put,
          req: create(PutRequestSchema, { key: enc.encode(`k${i}`), value }),
        }));
      }
      await Promise.all(ps);
    }
    const c = process.cpuUsage(c0);
    out.push((c.user + c.system) / (rounds * batch));
  }
} finally {
  await m.stop();
}
console.log(`${root}: CPU us per put ${out.map((x) => x.toFixed(2)).join(" ")}`);
