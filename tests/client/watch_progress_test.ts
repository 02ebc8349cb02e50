/**
 * Watch progress requests (etcd 3.4's WatchProgressRequest, clientv3's RequestProgress):
 * against a Concord member and etcd 3.4, a watch asked for progress receives, after its
 * events, a response without events (`isProgressNotify`) carrying the store's revision; the
 * client-wide request reaches every open watch; a request made before the stream is open is
 * sent with it. Over gRPC-web (fetch cannot send a second request) it is refused clearly.
 */
import assert from "node:assert/strict";
import {
  EtcdError,
  GrpcCode,
  isProgressNotify,
  type Watch,
  type WatchResponse,
} from "../../lib/client/mod.ts";
import { onEveryTarget } from "./targets.ts";

/** Reads a watch's responses one at a time, each within a bounded wait. */
function reader(w: Watch) {
  const it = w[Symbol.asyncIterator]();
  return async (what: string, ms = 10_000): Promise<WatchResponse> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`timed out waiting for ${what}`)), ms);
    });
    try {
      const r = await Promise.race([it.next(), timeout]);
      if (r.done) throw new Error(`watch ended while waiting for ${what}`);
      return r.value;
    } finally {
      clearTimeout(timer);
    }
  };
}

Deno.test("watch: requestProgress delivers a progress notification with the store's revision", async () => {
  await onEveryTarget(async (t) => {
    const c = t.client();
    const w = c.watch("p/", { prefix: true });
    if (t.name === "concord/web") {
      await w.ready;
      assert.throws(
        () => w.requestProgress(),
        (e) =>
          e instanceof EtcdError && e.code === GrpcCode.Unimplemented &&
          /transport that streams requests/.test(e.message),
      );
      w.cancel();
      return;
    }
    const next = reader(w);
    await w.ready;
    const r1 = (await c.put("p/a", "1")).header!.revision;
    await c.put("elsewhere", "x");
    const cur = (await c.put("elsewhere", "y")).header!.revision;
    w.requestProgress();
    const ev = await next("the event");
    assert.equal(ev.events.length, 1);
    assert.equal(ev.events[0].kv!.modRevision, r1);
    assert.equal(isProgressNotify(ev), false);
    const p = await next("the progress notification");
    assert.ok(isProgressNotify(p), `not a progress notification: ${p.events.length} events`);
    assert.equal(p.header!.revision, cur);
    assert.equal(p.watchId, -1n);
    // the answer does not move where the watch would resume (etcd 3.4 may answer ahead of
    // events still queued for it): the next revision is still the one after the last event
    assert.equal(w.nextRevision, r1 + 1n);

    // asked before its stream is open: sent right after the create request
    const early = c.watch("q");
    early.requestProgress();
    const nextEarly = reader(early);
    const pe = await nextEarly("the early progress notification");
    assert.ok(isProgressNotify(pe));
    assert.equal(pe.header!.revision, cur);

    // client-wide: every open watch gets one, at the revision of the time
    const cur2 = (await c.put("elsewhere", "z")).header!.revision;
    c.requestProgress();
    for (const [name, read] of [["p/", next], ["q", nextEarly]] as const) {
      const r = await read(`the client-wide notification on ${name}`);
      assert.ok(isProgressNotify(r), name);
      assert.equal(r.header!.revision, cur2, name);
    }
    // events keep flowing after it
    await c.put("p/b", "2");
    const ev2 = await next("the event after the notification");
    assert.equal(ev2.events[0].kv!.modRevision, cur2 + 1n);

    w.cancel();
    assert.throws(() => w.requestProgress(), /watch is closed/);
    early.cancel();
    c.requestProgress(); // no open watch: nothing to ask
  });
});
