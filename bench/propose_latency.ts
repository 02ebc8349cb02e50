/**
 * The latency of one proposal through a member, with nothing else in flight: what a single
 * client's put costs below the API (raft, one WAL append and fdatasync, apply), beside the raw
 * cost of the same append and fdatasync on the same disk in the same run.
 *
 *   deno run -A bench/propose_latency.ts [--rounds=4] [--per-round=3000] [--dir=/tmp]
 *
 * Rounds alternate member and raw so drift of the disk lands on both; each prints its mean.
 */
import { create } from "@bufbuild/protobuf";
import { defaultConfig } from "../lib/server/config.ts";
import { Member } from "../lib/server/member.ts";
import { RequestKind } from "../lib/server/request.ts";
import { PutRequestSchema } from "../proto/gen/etcdserverpb/rpc_pb.ts";

const flag = (name: string, def: string) =>
  Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;
const rounds = Number(flag("rounds", "4"));
const perRound = Number(flag("per-round", "3000"));
const base = flag("dir", "/tmp");

const dir = await Deno.makeTempDir({ dir: base, prefix: "concord-propose-" });
const cfg = defaultConfig("bench");
cfg.dataDir = `${dir}/member`;
const m = await Member.start(cfg, { log: () => {} });
await m.ready;
// the raw peer: a preallocated file, 300-byte appends, each followed by fdatasync
const raw = await Deno.open(`${dir}/raw`, { create: true, read: true, write: true });
raw.writeSync(new Uint8Array(64 << 20));
raw.syncDataSync();
const rec = new Uint8Array(300);
let rawOff = 0;
const value = new Uint8Array(256);
const enc = new TextEncoder();
try {
  for (let r = 0; r < rounds; r++) {
    let t = performance.now();
    for (let i = 0; i < perRound; i++) {
      await m.propose({
        kind: RequestKind.Put,
        req: create(PutRequestSchema, { key: enc.encode(`k${i % 1000}`), value }),
      });
    }
    const member = (performance.now() - t) / perRound * 1000;
    t = performance.now();
    for (let i = 0; i < perRound; i++) {
      raw.seekSync(rawOff, Deno.SeekMode.Start);
      raw.writeSync(rec);
      rawOff += rec.length;
      raw.syncDataSync();
    }
    const disk = (performance.now() - t) / perRound * 1000;
    console.log(
      `round ${r + 1}: propose ${member.toFixed(0)} us; raw append+fdatasync ${
        disk.toFixed(0)
      } us; overhead ${(member - disk).toFixed(0)} us`,
    );
  }
} finally {
  raw.close();
  await m.stop();
  await Deno.remove(dir, { recursive: true });
}
