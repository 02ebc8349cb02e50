import assert from "node:assert/strict";
import { Event_EventType } from "../../proto/gen/mvccpb/kv_pb.ts";
import { Errors, op, text, type Watch, WatchCompactedError } from "../../lib/client/mod.ts";
import { onEveryTarget } from "./targets.ts";

/** The first `n` events the watch delivers, as "PUT k=v@rev" / "DELETE k@rev". */
async function take(w: Watch, n: number): Promise<string[]> {
  const out: string[] = [];
  for await (const r of w) {
    for (const e of r.events) {
      const kv = e.kv!;
      out.push(
        e.type === Event_EventType.PUT
          ? `PUT ${text(kv.key)}=${text(kv.value)}@${kv.modRevision}`
          : `DELETE ${text(kv.key)}@${kv.modRevision}` +
            (e.prevKv ? ` (was ${text(e.prevKv.value)})` : ""),
      );
    }
    if (out.length >= n) break;
  }
  return out;
}

Deno.test("watch: events from now in order, prevKv, filters, history, cancel", async () => {
  await onEveryTarget(async (t) => {
    const c = t.client();
    const w = c.watch("w/", { prefix: true, prevKv: true });
    const noDel = c.watch("w/", { prefix: true, noDelete: true });
    await Promise.all([w.ready, noDel.ready]);
    const r1 = (await c.put("w/a", "1")).header!.revision;
    await c.put("x", "outside");
    await c.txn().then(op.put("w/b", "2"), op.put("w/c", "3")).commit();
    await c.put("w/a", "4");
    await c.kv.delete("w/a");
    assert.deepEqual(await take(w, 5), [
      `PUT w/a=1@${r1}`,
      `PUT w/b=2@${r1 + 2n}`,
      `PUT w/c=3@${r1 + 2n}`,
      `PUT w/a=4@${r1 + 3n}`,
      `DELETE w/a@${r1 + 4n} (was 4)`,
    ]);
    assert.deepEqual(await take(noDel, 4), [
      `PUT w/a=1@${r1}`,
      `PUT w/b=2@${r1 + 2n}`,
      `PUT w/c=3@${r1 + 2n}`,
      `PUT w/a=4@${r1 + 3n}`,
    ]);

    // history: from r1 on, the same events again
    const h = c.watch("w/a", { startRevision: r1 });
    assert.deepEqual(await take(h, 3), [
      `PUT w/a=1@${r1}`,
      `PUT w/a=4@${r1 + 3n}`,
      `DELETE w/a@${r1 + 4n}`,
    ]);
    // cancel ends the iteration
    const idle = c.watch("nothing");
    await idle.ready;
    setTimeout(() => idle.cancel(), 50);
    for await (const _ of idle) assert.fail("no event expected");
  });
});

Deno.test("watch: a compacted start revision is reported with the compaction revision", async () => {
  await onEveryTarget(async (t) => {
    const c = t.client();
    const r1 = (await c.put("cw", "1")).header!.revision;
    const r2 = (await c.put("cw", "2")).header!.revision;
    await c.kv.compact(r2);
    const w = c.watch("cw", { startRevision: r1 });
    await assert.rejects(
      (async () => {
        for await (const _ of w) assert.fail("no event expected");
      })(),
      (e) => e instanceof WatchCompactedError && e.compactRevision === r2 && Errors.compacted.is(e),
    );
    // from the compaction revision on, it works
    const w2 = c.watch("cw", { startRevision: r2 });
    assert.deepEqual(await take(w2, 1), [`PUT cw=2@${r2}`]);
  });
});

Deno.test("watch: a slow consumer still gets all 300 events of a burst, in order", async () => {
  await onEveryTarget(async (t) => {
    const c = t.client();
    const w = c.watch("slow/", { prefix: true });
    await w.ready;
    const n = 300;
    const first = (await c.put("slow/0", "0")).header!.revision;
    await Promise.all(Array.from({ length: n - 1 }, (_, i) => c.put(`slow/${i + 1}`, "x")));
    const revs: bigint[] = [];
    for await (const r of w) {
      // pauses while the burst arrives: responses queue (up to a bound, then the stream waits)
      if (revs.length % 50 === 0) await new Promise((res) => setTimeout(res, 20));
      for (const e of r.events) revs.push(e.kv!.modRevision);
      if (revs.length >= n) break;
    }
    assert.deepEqual(revs, Array.from({ length: n }, (_, i) => first + BigInt(i)));
  });
});
