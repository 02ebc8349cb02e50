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
import {
  applyCompaction,
  applyDeleteRange,
  applyPut,
  applyRange,
  applyTxn,
} from "../../lib/mvcc/applier.ts";
import { Lessor } from "../../lib/lease/lessor.ts";
import { kvKeyDeleter } from "../../lib/lease/kv_deleter.ts";
import { EtcdError } from "../../lib/base/errors.ts";
import { MvccStore } from "../../lib/mvcc/kv_store.ts";
import { WatchHub, type WatchStream } from "../../lib/mvcc/watch_hub.ts";
import {
  type CompactionRequest,
  CompactionRequestSchema,
  Compare_CompareResult,
  Compare_CompareTarget,
  CompareSchema,
  type DeleteRangeRequest,
  DeleteRangeRequestSchema,
  type LeaseGrantRequest,
  LeaseGrantRequestSchema,
  type LeaseRevokeRequest,
  LeaseRevokeRequestSchema,
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
  | { kind: RequestKind.Txn; req: TxnRequest }
  | { kind: RequestKind.LeaseGrant; req: LeaseGrantRequest }
  | { kind: RequestKind.LeaseRevoke; req: LeaseRevokeRequest }
  | { kind: RequestKind.Compaction; req: CompactionRequest };

/** A replay store with its own lessor, as the member pairs them (never started: no expiry). */
interface Replay {
  store: MvccStore;
  lessor: Lessor;
}

async function newReplay(): Promise<Replay> {
  const backend = await openSimBackend(await newDisk());
  const lessor = new Lessor({ backend, clock: new SimClock() });
  const store = MvccStore.open(backend, { leases: lessor });
  lessor.setKeyDeleter(kvKeyDeleter(store));
  return { store, lessor };
}

/**
 * A random write. Leases have ids 1-4 and an hour to live (the simulated time never reaches
 * it: expiry would be the member's own proposal, outside the history); compactions aim at
 * revisions up to a little past `rev`, so some are refused as future or already compacted.
 */
function randomOp(r: Rand, rev: number): Proposal {
  const key = () => enc.encode(`k${r.int(12)}`);
  const value = () => enc.encode(`v${r.int(1000)}`);
  switch (r.int(9)) {
    case 6:
      return {
        kind: RequestKind.LeaseGrant,
        req: create(LeaseGrantRequestSchema, { ID: BigInt(1 + r.int(4)), TTL: 3600n }),
      };
    case 7:
      return {
        kind: RequestKind.LeaseRevoke,
        req: create(LeaseRevokeRequestSchema, { ID: BigInt(1 + r.int(4)) }),
      };
    case 8:
      return {
        kind: RequestKind.Compaction,
        req: create(CompactionRequestSchema, { revision: BigInt(1 + r.int(rev + 3)) }),
      };
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
        req: create(PutRequestSchema, {
          key: key(),
          value: value(),
          prevKv: r.chance(0.3),
          lease: r.chance(0.25) ? BigInt(1 + r.int(4)) : 0n,
        }),
      };
  }
}

const dec = new TextDecoder();

/** Live keys of `store` at `rev`, as `key` -> `value@modRevision`. */
/**
 * The keys live at `rev`, every field: key=value@create/mod/vN/lease. The history above the
 * compaction revision is these sets for each revision; that, not hashKV, is compared, because
 * hashKV (as etcd's) also counts old revisions that physical compaction has not removed yet,
 * which depends on how far the background compaction got before a crash.
 */
function snapshotAt(store: MvccStore, rev: number): string {
  return applyRange(store, { key: enc.encode("\0"), rangeEnd: new Uint8Array([0]), revision: rev })
    .kvs.map((kv) =>
      `${dec.decode(kv.key)}=${
        dec.decode(kv.value)
      }@${kv.createRevision}/${kv.modRevision}/v${kv.version}/l${kv.lease}`
    ).join(" ");
}

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
  const rp = await newReplay();
  const model = rp.store;
  for (const p of history) {
    if (model.rev() >= rev) break;
    replay(rp, p);
  }
  const change = (st: MvccStore, r: number) => {
    const a = liveAt(st, r - 1);
    const b = liveAt(st, r);
    const out: string[] = [];
    for (const [k, v] of b) if (a.get(k) !== v) out.push(`+${k}=${v}`);
    for (const k of a.keys()) if (!b.has(k)) out.push(`-${k}`);
    return out.join(",");
  };
  const from = Math.max(2, member.compactRev() + 2, model.compactRev() + 2);
  for (let r = from; r <= rev; r++) {
    console.log(`rev ${r}: member ${change(member, r)} | replay ${change(model, r)}`);
  }
  const show = (_k: string, v: unknown) =>
    v instanceof Uint8Array ? dec.decode(v) : typeof v === "bigint" ? String(v) : v;
  history.forEach((p, i) => console.log(`proposal ${i}: ${JSON.stringify(p.req, show)}`));
}

/** Applies `p` to the replay as the member's apply does; a refused request changes nothing. */
function replay(rp: Replay, p: Proposal): void {
  try {
    switch (p.kind) {
      case RequestKind.Put:
        applyPut(rp.store, putFromPb(p.req));
        break;
      case RequestKind.DeleteRange:
        applyDeleteRange(rp.store, deleteFromPb(p.req));
        break;
      case RequestKind.Txn:
        applyTxn(rp.store, txnFromPb(p.req));
        break;
      case RequestKind.LeaseGrant:
        rp.lessor.grant(p.req.ID, Number(p.req.TTL));
        break;
      case RequestKind.LeaseRevoke:
        rp.lessor.revoke(p.req.ID);
        break;
      case RequestKind.Compaction:
        applyCompaction(rp.store, { revision: Number(p.req.revision), physical: false })
          .done.catch(() => {});
        break;
    }
  } catch (err) {
    if (!(err instanceof EtcdError)) throw err;
  }
}

/**
 * Takes every response a watch stream has ready into `into` (revision -> its events, in
 * order); false once the watch was cancelled (compacted away while it lagged), after which it
 * says nothing more about the history.
 */
function drainWatch(stream: WatchStream, into: Map<number, string[]>): boolean {
  for (let r = stream.tryNext(); r !== undefined; r = stream.tryNext()) {
    if (r.canceled || r.compactRevision > 0) return false;
    for (const e of r.events) {
      const kv = e.kv;
      const text = `${e.type === 0 ? "PUT" : "DELETE"} ${dec.decode(kv.key)}=${
        dec.decode(kv.value)
      }@${kv.createRevision}/${kv.modRevision}/v${kv.version}/l${kv.lease}`;
      const at = into.get(kv.modRevision) ?? [];
      at.push(text);
      into.set(kv.modRevision, at);
    }
  }
  return true;
}

/** A watch over every key from `startRevision`. */
function watchAll(stream: WatchStream, startRevision: number): void {
  stream.watch({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]), startRevision });
}

/** The lease ids a lessor holds, sorted. */
function leaseIds(l: Lessor): string {
  return l.leases().map((v) => v.id).sort((a, b) => (a < b ? -1 : 1)).join(",");
}

function revisionOf(a: Applied): number {
  switch (a.kind) {
    case "put":
    case "delete":
    case "txn":
    case "compaction":
      return a.r.header.revision;
    case "grant":
    case "revision":
      return a.revision;
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
  /** What the current incarnation's watcher saw, by revision; see drainWatch. */
  let watched = new Map<number, string[]>();
  let watchedFrom = 0;
  let watchedUpTo = -1;
  let watchedLive = false;
  for (let round = 0; round < ROUNDS; round++) {
    // a fresh clock per incarnation: the dead member's timers must not fire into this one
    const clock = new SimClock(time);
    // this incarnation's view of the disk dies with it (see SimDisk.process)
    const m = await Member.start(cfg, {
      disk: disk.process(),
      clock,
      log: () => {},
      walSegmentBytes,
    });
    await m.ready;
    // An entry the crash left in the WAL without its commit (a torn HardState record) is not
    // lost: the new leader commits it with its first entry. A read round waits for that, so
    // what follows sees every entry that survived.
    await m.linearizableRead();

    // which prefix of the history does the member hold?
    const rp = await newReplay();
    const model = rp.store;
    // the replay's state after each prefix: revision, compaction, leases, and the history
    // above the compaction (each revision's live set, recorded once when it is made)
    const madeAt: string[] = [];
    const above = (c: number, r: number, at: (rev: number) => string) => {
      const out: string[] = [];
      for (let x = Math.max(1, c + 1); x <= r; x++) out.push(at(x));
      return out.join("|");
    };
    const stateOf = (store: MvccStore, lessor: Lessor, at: (rev: number) => string) => ({
      rev: store.rev(),
      compacted: store.compactRev(),
      leases: leaseIds(lessor),
      history: above(store.compactRev(), store.rev(), at),
    });
    const recorded = (x: number) => madeAt[x];
    madeAt[model.rev()] = snapshotAt(model, model.rev());
    const states = [stateOf(model, rp.lessor, recorded)];
    const revs: number[] = [];
    const modelHub = new WatchHub(model);
    const modelStream = modelHub.newStream({ bufferSize: 1 << 20 });
    watchAll(modelStream, 0); // from the next revision: synced, delivered as each is made
    const modelEvents = new Map<number, string[]>();
    for (const p of history) {
      const before = model.rev();
      replay(rp, p);
      drainWatch(modelStream, modelEvents);
      if (model.rev() !== before) madeAt[model.rev()] = snapshotAt(model, model.rev());
      revs.push(model.rev());
      states.push(stateOf(model, rp.lessor, recorded));
    }
    const mustHold = acked.size === 0 ? 0 : Math.max(...acked.keys()) + 1;
    const got = stateOf(m.store, m.lessor, (x) => snapshotAt(m.store, x));
    let held = -1;
    for (let n = states.length - 1; n >= mustHold; n--) {
      if (JSON.stringify(states[n]) === JSON.stringify(got)) {
        held = n;
        break;
      }
    }
    if (held < 0 && Deno.env.get("SIM_DEBUG")) {
      states.forEach((st, n) => {
        if (Math.abs(st.rev - got.rev) <= 1) console.log(`prefix ${n}: ${JSON.stringify(st)}`);
      });
      await explain(m.store, history, got.rev);
    }
    assert.ok(
      held >= 0,
      `seed=${seed} round ${round}: member at rev ${got.rev} (compacted ${got.compacted}, ` +
        `leases ${got.leases}) matches no ` +
        `prefix of ${history.length} proposals holding the ${mustHold} acknowledged ones ` +
        `(prefix revisions ${states.map((s) => s.rev).join(",")})`,
    );
    for (const [i, rev] of acked) {
      assert.equal(rev, revs[i], `seed=${seed}: proposal ${i} was answered with rev ${rev}`);
    }
    // what the last incarnation's watcher saw: every revision it applied, once, in order, as
    // the replay makes it, and nothing the crash then lost (applied means synced)
    for (const [rev, events] of watched) {
      assert.ok(rev <= got.rev, `seed=${seed} round ${round}: watched rev ${rev} was lost`);
      assert.deepEqual(events, modelEvents.get(rev), `seed=${seed} round ${round}: rev ${rev}`);
    }
    for (let x = watchedFrom; watchedLive && x <= watchedUpTo; x++) {
      if (modelEvents.has(x)) assert.ok(watched.has(x), `seed=${seed}: rev ${x} never watched`);
    }
    modelStream.close();
    modelHub.close();
    if (Deno.env.get("SIM_DEBUG")) {
      const kinds = new Map<string, number>();
      for (const i of acked.keys()) {
        if (i < held) {
          kinds.set(
            RequestKind[history[i].kind],
            (kinds.get(RequestKind[history[i].kind]) ?? 0) + 1,
          );
        }
      }
      console.log(
        `seed=${seed} round ${round}: holds ${held} of ${history.length}; state ${
          JSON.stringify(got)
        }; acked ${JSON.stringify([...kinds])}`,
      );
    }
    history.length = held; // what the crash lost was never applied: it is not history
    await model.close();

    // a watcher over everything this incarnation applies
    watched = new Map();
    watchedFrom = m.store.rev() + 1;
    watchedUpTo = m.store.rev();
    watchedLive = true;
    const stream = m.hub.newStream({ bufferSize: 1 << 20 });
    watchAll(stream, watchedFrom);
    const drain = () => {
      if (watchedLive) watchedLive = drainWatch(stream, watched);
      watchedUpTo = m.store.rev();
    };

    // load, with a crash at a seeded moment, possibly with proposals in flight
    const steps = 5 + r.int(25);
    const crashAt = r.int(steps);
    for (let step = 0; step <= crashAt; step++) {
      const batch = 1 + r.int(4);
      const pending: Promise<void>[] = [];
      for (let b = 0; b < batch; b++) {
        const p = randomOp(r, m.store.rev());
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
      drain();
      if (r.chance(0.4)) {
        const ms = r.int(150);
        clock.advance(ms);
        time += ms;
        // let what the timers started (backend commits, snapshots) run a little
        for (let k = r.int(6); k > 0; k--) await Promise.resolve();
      }
    }
    drain();
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
  for (let s = 0; s < SEEDS; s++) {
    try {
      await runSeed(base + s);
    } catch (err) {
      // name the seed whatever failed (an assertion already does; a crash of the member not)
      if (err instanceof Error && !err.message.includes(`seed=${base + s}`)) {
        err.message = `seed=${base + s}: ${err.message}`;
      }
      throw err;
    }
  }
});
