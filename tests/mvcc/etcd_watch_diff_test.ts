/**
 * Watch differential test against a real etcd 3.4: the same writes go to etcd and to the
 * store; watchers with random ranges, start revisions (old ones replay history), filters and
 * prev_kv are opened on both, more writes follow, and every watcher's created revision and
 * event sequence must be identical. Responses may group catch-up revisions differently (etcd
 * allows any grouping of whole revisions), so events are compared flattened, and each
 * revision must arrive whole in one response on our side.
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import { MvccStore } from "../../lib/mvcc/kv_store.ts";
import { applyDeleteRange, applyPut, applyTxn } from "../../lib/mvcc/applier.ts";
import { prefixEnd } from "../../lib/mvcc/key_bytes.ts";
import { WatchHub } from "../../lib/mvcc/watch_hub.ts";
import { WatchFilter } from "../../lib/mvcc/watch_types.ts";
import type { Event, KeyValue } from "../../lib/mvcc/types.ts";
import { startEtcd } from "./etcd_process.ts";
import { kvOf, pbDelete, pbPut, pbTxn } from "./etcd_pb.ts";
import { genDelete, genKey, genPut, genTxn } from "./gen.ts";
import { newDisk, openSimBackend, panicsEtcd } from "./helpers.ts";
import { TestLessor } from "./test_lessor.ts";

/** An async queue of requests for a bidi stream. */
function requestQueue<T>() {
  const q: T[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  return {
    push(v: T) {
      q.push(v);
      wake?.();
    },
    close() {
      closed = true;
      wake?.();
    },
    async *[Symbol.asyncIterator](): AsyncGenerator<T> {
      for (;;) {
        while (q.length) yield q.shift()!;
        if (closed) return;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    },
  };
}

interface Flat {
  type: number;
  kv: KeyValue;
  prevKv?: KeyValue;
}

Deno.test({
  name: "watch delivers exactly what a real etcd 3.4 delivers",
  async fn() {
    const seed = testSeed();
    console.log(`seed=${seed}`);
    const r = new Rand(seed);
    const etcd = await startEtcd();
    const kv = createClient(pb.KV, etcd.transport);
    const lease = createClient(pb.Lease, etcd.transport);
    const watch = createClient(pb.Watch, etcd.transport);
    const disk = await newDisk();
    const backend = await openSimBackend(disk);
    const store = MvccStore.open(backend, { leases: new TestLessor([1n, 2n]) });
    const hub = new WatchHub(store, { syncRevs: r.range(1, 30) });
    const ours = hub.newStream({ bufferSize: r.range(1, 8) });
    const reqs = requestQueue<pb.WatchRequest>();
    const theirs: pb.WatchResponse[] = [];
    let streamError: unknown;
    let reader: Promise<void> = Promise.resolve();
    const waitFor = async (pred: () => boolean, what: string) => {
      const deadline = Date.now() + 15_000;
      while (!pred()) {
        if (streamError) throw streamError;
        assert.ok(Date.now() < deadline, `seed=${seed}: timed out waiting for ${what}`);
        await new Promise((res) => setTimeout(res, 5));
      }
    };
    try {
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
      // The watch stream opens once etcd serves.
      reader = (async () => {
        try {
          for await (const resp of watch.watch(reqs)) theirs.push(resp);
        } catch (e) {
          streamError = e;
        }
      })();
      const write = async () => {
        const x = r.int(10);
        const apply = async (etcdCall: () => Promise<unknown>, ourCall: () => unknown) => {
          let etcdFailed = false;
          let ourFailed = false;
          try {
            await etcdCall();
          } catch {
            etcdFailed = true;
          }
          try {
            ourCall();
          } catch {
            ourFailed = true;
          }
          assert.equal(ourFailed, etcdFailed, `seed=${seed}: write outcome`);
        };
        if (x < 6) {
          const p = genPut(r);
          await apply(() => kv.put(pbPut(p)), () => applyPut(store, p));
        } else if (x < 8) {
          const d = genDelete(r);
          await apply(() => kv.deleteRange(pbDelete(d)), () => applyDeleteRange(store, d));
        } else {
          const t = genTxn(r, store.rev(), store.compactRev());
          if (panicsEtcd(t)) return;
          await apply(() => kv.txn(pbTxn(t)), () => applyTxn(store, t));
        }
      };
      for (let i = 0; i < 120; i++) await write();
      // Watchers: random range, start revision, filters, prev_kv.
      const n = 12;
      for (let i = 0; i < n; i++) {
        const key = genKey(r);
        const rangeEnd = r.chance(0.3)
          ? undefined
          : r.chance(0.5)
          ? prefixEnd(key.subarray(0, 1))
          : new Uint8Array([0]);
        const startRevision = r.chance(0.3) ? 0 : r.range(1, store.rev() + 3);
        const filters = r.chance(0.2) ? [r.pick([WatchFilter.NOPUT, WatchFilter.NODELETE])] : [];
        const prevKv = r.chance(0.4);
        const id = ours.watch({ key, rangeEnd, startRevision, filters, prevKv });
        assert.equal(id, i);
        const before = theirs.length;
        reqs.push(create(pb.WatchRequestSchema, {
          requestUnion: {
            case: "createRequest",
            value: create(pb.WatchCreateRequestSchema, {
              key,
              rangeEnd,
              startRevision: BigInt(startRevision),
              filters: filters as number[] as pb.WatchCreateRequest_FilterType[],
              prevKv,
            }),
          },
        }));
        await waitFor(() => theirs.slice(before).some((x) => x.created), "created");
        if (r.chance(0.5)) await write();
      }
      for (let i = 0; i < 120; i++) await write();
      const final = store.rev();
      // Collect ours until every watcher is caught up and the queue is empty.
      const got: WatchResponseLike[] = [];
      await waitFor(() => {
        for (let x = ours.tryNext(); x; x = ours.tryNext()) got.push(x);
        const c = hub.counts();
        return c.unsynced === 0 && c.victims === 0 && ours.pending === 0;
      }, "our watchers to catch up");
      // etcd: wait until its last event per watcher matches ours (ours is complete now).
      const lastOf = (list: Flat[]) => (list.length ? list[list.length - 1].kv.modRevision : 0);
      const oursBy = flatten(got.map((x) => ({ id: x.watchId, events: x.events })));
      const theirsBy = () =>
        flatten(theirs.map((x) => ({
          id: Number(x.watchId),
          events: x.events.map((e) => ({
            type: e.type,
            kv: kvOf(e.kv!),
            ...(e.prevKv ? { prevKv: kvOf(e.prevKv) } : {}),
          })),
        })));
      await waitFor(() => {
        const t = theirsBy();
        for (let i = 0; i < n; i++) {
          if (lastOf(t.get(i) ?? []) < lastOf(oursBy.get(i) ?? [])) return false;
        }
        return true;
      }, "etcd's events");
      const t = theirsBy();
      let events = 0;
      for (let i = 0; i < n; i++) {
        events += (oursBy.get(i) ?? []).length;
        const show = (l: Flat[]) =>
          l.map((e) =>
            `${e.type}:${
              String.fromCharCode(...e.kv.key)
            }@${e.kv.modRevision}(c${e.kv.createRevision}v${e.kv.version})` +
            (e.prevKv ? `<${e.prevKv.modRevision}(c${e.prevKv.createRevision})` : "")
          ).join(" ");
        assert.deepEqual(
          oursBy.get(i) ?? [],
          t.get(i) ?? [],
          `seed=${seed} watcher ${i} (final ${final})\nours:   ${
            show(oursBy.get(i) ?? [])
          }\ntheirs: ${show(t.get(i) ?? [])}`,
        );
      }
      // The created responses carry the same revision.
      const createdOurs = got.filter((x) => x.created).map((x) => [x.watchId, x.revision]);
      const createdTheirs = theirs.filter((x) => x.created).map((
        x,
      ) => [Number(x.watchId), Number(x.header!.revision)]);
      assert.deepEqual(createdOurs, createdTheirs, `seed=${seed} created revisions`);
      // A watcher from before the compacted revision gets the compacted response on both.
      const c = final - r.range(1, 20);
      await kv.compact(create(pb.CompactionRequestSchema, { revision: BigInt(c), physical: true }));
      await store.compact(c).done;
      const start = r.range(1, c);
      ours.watch({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]), startRevision: start });
      const before = theirs.length;
      reqs.push(create(pb.WatchRequestSchema, {
        requestUnion: {
          case: "createRequest",
          value: create(pb.WatchCreateRequestSchema, {
            key: new Uint8Array([0]),
            rangeEnd: new Uint8Array([0]),
            startRevision: BigInt(start),
          }),
        },
      }));
      await waitFor(() => theirs.slice(before).some((x) => x.compactRevision !== 0n), "compacted");
      const tc = theirs.slice(before).find((x) => x.compactRevision !== 0n)!;
      let oc: WatchResponseLike & { compactRevision?: number; canceled?: boolean } | undefined;
      await waitFor(() => {
        for (let x = ours.tryNext(); x; x = ours.tryNext()) if (x.compactRevision) oc = x;
        return oc !== undefined;
      }, "our compacted response");
      assert.deepEqual(
        [oc!.watchId, oc!.compactRevision, oc!.canceled],
        [Number(tc.watchId), Number(tc.compactRevision), tc.canceled],
      );
      console.log(`${n} watchers, ${events} events, final revision ${final}`);
      assert.ok(events > 0, `seed=${seed}: no events`);
    } finally {
      reqs.close();
      await etcd.stop();
      await reader;
      hub.close();
      await store.close();
      await backend.close();
    }
  },
});

interface WatchResponseLike {
  watchId: number;
  revision: number;
  created: boolean;
  events: Event[];
}

function flatten(resps: { id: number; events: Flat[] }[]): Map<number, Flat[]> {
  const m = new Map<number, Flat[]>();
  for (const x of resps) {
    if (x.events.length === 0) continue;
    const list = m.get(x.id) ?? [];
    for (const e of x.events) {
      list.push(
        e.prevKv ? { type: e.type, kv: e.kv, prevKv: e.prevKv } : { type: e.type, kv: e.kv },
      );
    }
    m.set(x.id, list);
  }
  return m;
}
