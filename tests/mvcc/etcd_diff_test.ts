/**
 * Differential test against the real etcd 3.4 (Debian's /usr/bin/etcd): the same random KV
 * requests go to a fresh etcd over gRPC and to a fresh MvccStore, and every response (or
 * error code and message) must match field by field. Where etcd's answer is not deterministic
 * (Go's unstable sort among equal sort keys), the comparison keeps what is determined: the
 * sequence of sort keys, count and more.
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { startEtcd } from "./etcd_process.ts";
import {
  b,
  deleteOf,
  hdr,
  pbDelete,
  pbPut,
  pbRange,
  pbTxn,
  putOf,
  rangeOf,
  txnOf,
} from "./etcd_pb.ts";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { EtcdError } from "../../lib/base/errors.ts";
import { MvccStore } from "../../lib/mvcc/kv_store.ts";
import {
  applyCompaction,
  applyDeleteRange,
  applyPut,
  applyRange,
  applyTxn,
} from "../../lib/mvcc/applier.ts";
import {
  type KeyValue,
  type RangeRequest,
  type ResponseOp,
  SortOrder,
  SortTarget,
  type TxnRequest,
} from "../../lib/mvcc/types.ts";
import { genDelete, genPut, genRange, genTxn } from "./gen.ts";
import { newDisk, openSimBackend, panicsEtcd } from "./helpers.ts";
import { TestLessor } from "./test_lessor.ts";

type Outcome = { ok: unknown } | { err: string };

async function etcdOutcome(f: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: await f() };
  } catch (e) {
    if (e instanceof ConnectError && e.code !== Code.Unavailable) {
      return { err: `${e.code} ${e.rawMessage}` };
    }
    throw e;
  }
}

function ourOutcome(f: () => unknown): Outcome {
  try {
    return { ok: f() };
  } catch (e) {
    if (e instanceof EtcdError) return { err: `${e.code} ${e.message}` };
    throw e;
  }
}

function sortKeyOf(t: SortTarget, kv: KeyValue): string | number {
  switch (t) {
    case SortTarget.VERSION:
      return kv.version;
    case SortTarget.CREATE:
      return kv.createRevision;
    case SortTarget.MOD:
      return kv.modRevision;
    case SortTarget.VALUE:
      return String.fromCharCode(...kv.value);
    default:
      return String.fromCharCode(...kv.key);
  }
}

/** Replaces sorted ranges' kvs by their sort keys (Go's sort leaves ties in any order). */
function normalizeRange(req: RangeRequest, resp: unknown): unknown {
  const r = resp as { kvs: KeyValue[] };
  const target = req.sortTarget ?? SortTarget.KEY;
  const order = req.sortOrder ?? SortOrder.NONE;
  if (target === SortTarget.KEY || !r.kvs) return resp;
  void order;
  return { ...r, kvs: r.kvs.map((kv) => sortKeyOf(target, kv)) };
}

function normalizeTxn(req: TxnRequest, resp: unknown): unknown {
  const r = resp as { succeeded: boolean; responses: ResponseOp[] };
  if (!r.responses) return resp;
  const ops = (r.succeeded ? req.success : req.failure) ?? [];
  return {
    ...r,
    responses: r.responses.map((o, i) => {
      const op = ops[i];
      if (op.case === "requestRange") return { ...o, value: normalizeRange(op.value, o.value) };
      if (op.case === "requestTxn") return { ...o, value: normalizeTxn(op.value, o.value) };
      return o;
    }),
  };
}

function norm(o: Outcome, f: (v: unknown) => unknown): Outcome {
  return "ok" in o ? { ok: f(o.ok) } : o;
}

Deno.test({
  name: "mvcc answers exactly as a real etcd 3.4 on random requests",
  async fn() {
    const seed = testSeed();
    console.log(`seed=${seed}`);
    const r = new Rand(seed);
    const etcd = await startEtcd();
    const transport = etcd.transport;
    const kv = createClient(pb.KV, transport);
    const lease = createClient(pb.Lease, transport);
    const disk = await newDisk();
    const backend = await openSimBackend(disk);
    const store = MvccStore.open(backend, {
      leases: new TestLessor([1n, 2n]),
      compactionPauseMs: 0,
    });
    try {
      // Wait for etcd to serve, bounded.
      const deadline = Date.now() + 20_000;
      for (;;) {
        try {
          await kv.range(create(pb.RangeRequestSchema, { key: new Uint8Array([1]) }));
          break;
        } catch (e) {
          if (Date.now() > deadline) throw e;
          await new Promise((res) => setTimeout(res, 50));
        }
      }
      for (const id of [1n, 2n]) {
        await lease.leaseGrant(create(pb.LeaseGrantRequestSchema, { ID: id, TTL: 3600n }));
      }
      let compactRev = -1;
      const steps = Number(Deno.env.get("MVCC_DIFF_STEPS") ?? 500);
      for (let step = 0; step < steps; step++) {
        const x = r.int(100);
        const ctx = `seed=${seed} step=${step}`;
        const rev = store.rev();
        if (x < 30) {
          const p = genPut(r);
          const want = await etcdOutcome(async () => putOf(await kv.put(pbPut(p))));
          assert.deepEqual(ourOutcome(() => applyPut(store, p)), want, `${ctx} ${Deno.inspect(p)}`);
        } else if (x < 40) {
          const d = genDelete(r);
          const want = await etcdOutcome(async () => deleteOf(await kv.deleteRange(pbDelete(d))));
          assert.deepEqual(ourOutcome(() => applyDeleteRange(store, d)), want, ctx);
        } else if (x < 65) {
          const q = genRange(r, rev, compactRev);
          const want = await etcdOutcome(async () => rangeOf(await kv.range(pbRange(q))));
          const got = ourOutcome(() => applyRange(store, q));
          const f = (v: unknown) => normalizeRange(q, v);
          assert.deepEqual(norm(got, f), norm(want, f), `${ctx} ${Deno.inspect(q)}`);
        } else if (x < 95) {
          const t = genTxn(r, rev, compactRev);
          if (panicsEtcd(t)) continue;
          const want = await etcdOutcome(async () => txnOf(await kv.txn(pbTxn(t))));
          const got = ourOutcome(() => applyTxn(store, t));
          const f = (v: unknown) => normalizeTxn(t, v);
          assert.deepEqual(norm(got, f), norm(want, f), `${ctx} ${Deno.inspect(t, { depth: 8 })}`);
        } else {
          const c = r.range(Math.max(1, compactRev - 1), rev + 2);
          const want = await etcdOutcome(async () =>
            hdr(
              (await kv.compact(
                create(pb.CompactionRequestSchema, { revision: b(c), physical: true }),
              ))
                .header,
            )
          );
          let done: Promise<void> | undefined;
          const got = ourOutcome(() => {
            const res = applyCompaction(store, { revision: c });
            done = res.done;
            return res.response.header;
          });
          assert.deepEqual(got, want, ctx);
          if (done) {
            await done;
            compactRev = c;
          }
        }
      }
      // The "key" bucket holds the same bytes as etcd's: HashKV agrees exactly.
      const maintenance = createClient(pb.Maintenance, transport);
      for (const at of [0, store.rev() - 1]) {
        const want = await etcdOutcome(async () => {
          const h = await maintenance.hashKV(create(pb.HashKVRequestSchema, { revision: b(at) }));
          return { hash: h.hash, compactRev: Number(h.compactRevision) };
        });
        const got = ourOutcome(() => {
          const h = store.hashKV(at);
          return { hash: h.hash, compactRev: h.compactRev };
        });
        assert.deepEqual(got, want, `seed=${seed} hashKV(${at})`);
      }
      console.log(`revision ${store.rev()}, compacted ${store.compactRev()}`);
      assert.ok(store.rev() > 50, `seed=${seed}: too few writes`);
    } finally {
      await etcd.stop();
      await store.close();
      await backend.close();
    }
  },
});
