/**
 * A whole member under a simulated disk and clock, crashed at seeded moments: power losses
 * that keep, drop or tear each unsynced write (and unsynced directory entries), and kill -9.
 * Proposals (puts, deletes, txns) run several at a time, some still in flight at the crash;
 * the backend commits in small batches and snapshots are taken every few entries, so crashes
 * land between WAL fsyncs, backend commits, snapshot saves and WAL releases.
 *
 * After every restart the member must hold exactly the state of some prefix of the proposals
 * in the order they were made (a single member's log order), replayed once into a fresh
 * MvccStore: revision and hashKV equal. The prefix must include every acknowledged proposal,
 * and each acknowledged proposal's revision must be the one the replay gives it. That is the
 * WAL's durability (acknowledged means synced), the consistent index's idempotence (nothing
 * applied twice after a replay) and raft's order, checked together.
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { SimClock } from "../../lib/io/clock.ts";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { defaultConfig } from "../../lib/server/config.ts";
import { type Applied, Member } from "../../lib/server/member.ts";
import { RequestKind } from "../../lib/server/request.ts";
import { deleteFromPb, putFromPb, txnFromPb } from "../../lib/server/convert.ts";
import { applyDeleteRange, applyPut, applyRange, applyTxn } from "../../lib/mvcc/applier.ts";
import { MvccStore } from "../../lib/mvcc/kv_store.ts";
import {
  Compare_CompareResult,
  Compare_CompareTarget,
  CompareSchema,
  type DeleteRangeRequest,
  DeleteRangeRequestSchema,
  type PutRequest,
  PutRequestSchema,
  RequestOpSchema,
  type TxnRequest,
  TxnRequestSchema,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { newDisk, openSimBackend } from "../mvcc/helpers.ts";

const SEEDS = Number(Deno.env.get("SIM_SEEDS") ?? 60);
const ROUNDS = 6;
const enc = new TextEncoder();

/** The writes the simulation proposes (the member's Proposal union, narrowed). */
type Proposal =
  | { kind: RequestKind.Put; req: PutRequest }
  | { kind: RequestKind.DeleteRange; req: DeleteRangeRequest }
  | { kind: RequestKind.Txn; req: TxnRequest };

function randomOp(r: Rand): Proposal {
  const key = () => enc.encode(`k${r.int(12)}`);
  const value = () => enc.encode(`v${r.int(1000)}`);
  switch (r.int(6)) {
    case 0:
      return {
        kind: RequestKind.DeleteRange,
        req: create(DeleteRangeRequestSchema, {
          key: key(),
          rangeEnd: r.chance(0.3) ? enc.encode("k5") : new Uint8Array(0),
          prevKv: r.chance(0.5),
        }),
      };
    case 1: {
      // put if absent, else delete it: both branches write
      const k = key();
      return {
        kind: RequestKind.Txn,
        req: create(TxnRequestSchema, {
          compare: [create(CompareSchema, {
            key: k,
            target: Compare_CompareTarget.CREATE,
            result: Compare_CompareResult.EQUAL,
            targetUnion: { case: "createRevision", value: 0n },
          })],
          success: [create(RequestOpSchema, {
            request: {
              case: "requestPut",
              value: create(PutRequestSchema, { key: k, value: value() }),
            },
          })],
          failure: [create(RequestOpSchema, {
            request: {
              case: "requestDeleteRange",
              value: create(DeleteRangeRequestSchema, { key: k }),
            },
          })],
        }),
      };
    }
    default:
      return {
        kind: RequestKind.Put,
        req: create(PutRequestSchema, { key: key(), value: value(), prevKv: r.chance(0.3) }),
      };
  }
}

const dec = new TextDecoder();

/** Live keys of `store` at `rev`, as `key` -> `value@modRevision`. */
function liveAt(store: MvccStore, rev: number): Map<string, string> {
  const kvs =
    applyRange(store, { key: enc.encode("\0"), rangeEnd: new Uint8Array([0]), revision: rev })
      .kvs;
  return new Map(
    kvs.map((kv) => [dec.decode(kv.key), `${dec.decode(kv.value)}@${kv.modRevision}`]),
  );
}

/**
 * SIM_DEBUG=1: prints, revision by revision, what changed in the member and in a replay of the
 * history up to the same revision, then the history itself, so a divergence shows which
 * proposal was applied twice, lost or reordered.
 */
async function explain(member: MvccStore, history: Proposal[], rev: number): Promise<void> {
  const model = MvccStore.open(await openSimBackend(await newDisk()));
  for (const p of history) {
    if (model.rev() >= rev) break;
    replay(model, p);
  }
  const change = (st: MvccStore, r: number) => {
    const a = liveAt(st, r - 1);
    const b = liveAt(st, r);
    const out: string[] = [];
    for (const [k, v] of b) if (a.get(k) !== v) out.push(`+${k}=${v}`);
    for (const k of a.keys()) if (!b.has(k)) out.push(`-${k}`);
    return out.join(",");
  };
  for (let r = 2; r <= rev; r++) {
    console.log(`rev ${r}: member ${change(member, r)} | replay ${change(model, r)}`);
  }
  const show = (_k: string, v: unknown) =>
    v instanceof Uint8Array ? dec.decode(v) : typeof v === "bigint" ? String(v) : v;
  history.forEach((p, i) => console.log(`proposal ${i}: ${JSON.stringify(p.req, show)}`));
}

/** Applies `p` to the replay store as the member's apply does. */
function replay(store: MvccStore, p: Proposal): void {
  switch (p.kind) {
    case RequestKind.Put:
      applyPut(store, putFromPb(p.req));
      break;
    case RequestKind.DeleteRange:
      applyDeleteRange(store, deleteFromPb(p.req));
      break;
    case RequestKind.Txn:
      applyTxn(store, txnFromPb(p.req));
      break;
  }
}

function revisionOf(a: Applied): number {
  switch (a.kind) {
    case "put":
    case "delete":
    case "txn":
      return a.r.header.revision;
    default:
      throw new Error(`unexpected apply result ${a.kind}`);
  }
}

async function runSeed(seed: number): Promise<void> {
  const r = new Rand(seed);
  const disk = new SimDisk({ rand: new Rand(seed ^ 0x5eed) });
  await disk.mkdirAll("/sim");
  const cfg = defaultConfig("sim");
  cfg.dataDir = "/sim/data";
  cfg.snapshotCount = 5 + r.int(20);
  cfg.maxSnapshots = 2;
  cfg.backendBatchLimit = 1 + r.int(8);
  cfg.backendBatchIntervalMs = 100;
  // small segments: the WAL cuts and releases them under the crashes too
  const walSegmentBytes = 4096 * (2 + r.int(6));
  /** Every proposal made so far that is still possibly part of the member's history. */
  const history: Proposal[] = [];
  /** Revision each acknowledged proposal was answered with, by its index in `history`. */
  const acked = new Map<number, number>();
  let time = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // a fresh clock per incarnation: the dead member's timers must not fire into this one
    const clock = new SimClock(time);
    const m = await Member.start(cfg, { disk, clock, log: () => {}, walSegmentBytes });
    await m.ready;
    // An entry the crash left in the WAL without its commit (a torn HardState record) is not
    // lost: the new leader commits it with its first entry. A read round waits for that, so
    // what follows sees every entry that survived.
    await m.linearizableRead();

    // which prefix of the history does the member hold?
    const model = MvccStore.open(await openSimBackend(await newDisk()));
    const states: { rev: number; hash: number }[] = [{
      rev: model.rev(),
      hash: model.hashKV(0).hash,
    }];
    const revs: number[] = [];
    for (const p of history) {
      replay(model, p);
      revs.push(model.rev());
      states.push({ rev: model.rev(), hash: model.hashKV(0).hash });
    }
    const mustHold = acked.size === 0 ? 0 : Math.max(...acked.keys()) + 1;
    const got = { rev: m.store.rev(), hash: m.store.hashKV(0).hash };
    let held = -1;
    for (let n = states.length - 1; n >= mustHold; n--) {
      if (states[n].rev === got.rev && states[n].hash === got.hash) {
        held = n;
        break;
      }
    }
    if (held < 0 && Deno.env.get("SIM_DEBUG")) await explain(m.store, history, got.rev);
    assert.ok(
      held >= 0,
      `seed=${seed} round ${round}: member at rev ${got.rev} hash ${got.hash} matches no ` +
        `prefix of ${history.length} proposals holding the ${mustHold} acknowledged ones ` +
        `(prefix revisions ${states.map((s) => s.rev).join(",")})`,
    );
    for (const [i, rev] of acked) {
      assert.equal(rev, revs[i], `seed=${seed}: proposal ${i} was answered with rev ${rev}`);
    }
    history.length = held; // what the crash lost was never applied: it is not history
    await model.close();

    // load, with a crash at a seeded moment, possibly with proposals in flight
    const steps = 5 + r.int(25);
    const crashAt = r.int(steps);
    for (let step = 0; step <= crashAt; step++) {
      const batch = 1 + r.int(4);
      const pending: Promise<void>[] = [];
      for (let b = 0; b < batch; b++) {
        const p = randomOp(r);
        const i = history.length;
        history.push(p);
        pending.push(
          m.propose(p).then((a) => {
            acked.set(i, revisionOf(a));
          }, () => {
            // failed by the crash (stopped/stale handle): not acknowledged
          }),
        );
      }
      if (step === crashAt && r.chance(0.5)) break; // crash with this batch in flight
      await Promise.all(pending);
      if (r.chance(0.4)) {
        const ms = r.int(150);
        clock.advance(ms);
        time += ms;
        // let what the timers started (backend commits, snapshots) run a little
        for (let k = r.int(6); k > 0; k--) await Promise.resolve();
      }
    }
    if (r.chance(0.7)) disk.powerLoss("random");
    else disk.processCrash();
    time += 1;
    // the old member is abandoned, as a crashed process is; its handles are dead
    await Promise.resolve();
  }
}

Deno.test("member on a simulated disk: crashes at seeded moments keep every acknowledged write, applied once", async () => {
  const base = testSeed();
  console.log(`seed=${base} (seeds ${base}..${base + SEEDS - 1}; replay one with SEED=N)`);
  for (let s = 0; s < SEEDS; s++) await runSeed(base + s);
});
