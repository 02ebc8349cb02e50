import assert from "node:assert/strict";
import {
  cmp,
  Election,
  Errors,
  type Isolation,
  Mutex,
  Namespace,
  op,
  runStm,
  Session,
  text,
} from "../../lib/client/mod.ts";
import { onEveryTarget } from "./targets.ts";

Deno.test("recipes: mutex over sessions excludes; closing a session hands the lock on", async () => {
  await onEveryTarget(async (t) => {
    const c = t.client();
    const [s1, s2, s3] = await Promise.all([1, 2, 3].map(() => Session.create(c, { ttl: 30 })));
    const m1 = new Mutex(s1, "mx"), m2 = new Mutex(s2, "mx");
    await m1.lock();
    await assert.rejects(m2.tryLock(), /mutex: Locked by another session/);
    let got = false;
    const waiting = m2.lock().then(() => got = true);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(got, false);
    // guarded writes succeed only for the owner
    const guarded = await c.txn().if(m1.isOwner()).then(op.put("guarded", "1")).commit();
    assert.equal(guarded.succeeded, true);
    await s1.close(); // revokes the lease: m1's key goes, m2 is next
    await waiting;
    const notOwner = await c.txn().if(m1.isOwner()).then(op.put("guarded", "2")).commit();
    assert.equal(notOwner.succeeded, false);
    await m2.unlock();

    // three contenders increment a counter 5 times each under the lock: no update is lost
    await c.put("counter", "0");
    await Promise.all([s2, s3].map(async (s) => {
      const m = new Mutex(s, "cnt");
      for (let i = 0; i < 5; i++) {
        await m.lock();
        const v = Number(await c.getText("counter"));
        await c.put("counter", String(v + 1));
        await m.unlock();
      }
    }));
    assert.equal(await c.getText("counter"), "10");
    await Promise.all([s2.close(), s3.close()]);
    await s1.done;
  });
});

Deno.test("recipes: election campaign, proclaim, observe, resign", async () => {
  await onEveryTarget(async (t) => {
    const c = t.client();
    const [s1, s2] = await Promise.all([1, 2].map(() => Session.create(c, { ttl: 30 })));
    const e1 = new Election(s1, "el"), e2 = new Election(s2, "el");
    await assert.rejects(e1.leader(), (e) => Errors.electionNoLeader.is(e));
    await e1.campaign("one");
    assert.equal(text((await e2.leader()).value), "one");
    const ctrl = new AbortController();
    const seen: string[] = [];
    const observing = (async () => {
      for await (const kv of e2.observe(ctrl.signal)) {
        seen.push(text(kv.value));
        if (text(kv.value) === "two") return;
      }
    })();
    let second = false;
    const campaigning = e2.campaign("two").then(() => second = true);
    await e1.proclaim("uno");
    assert.equal(text((await e1.leader()).value), "uno");
    assert.equal(second, false);
    await e1.resign();
    await campaigning;
    await observing;
    ctrl.abort();
    assert.equal(seen.at(-1), "two");
    assert.ok(seen.includes("uno"), seen.join());
    await assert.rejects(e1.proclaim("x"), (e) => Errors.electionNotLeader.is(e));
    await Promise.all([s1.close(), s2.close()]);
  });
});

Deno.test("recipes: STM transfers keep the total at every serializable isolation level", async () => {
  await onEveryTarget(async (t) => {
    const c = t.client();
    for (
      const isolation of [
        "serializable-snapshot",
        "serializable",
        "repeatable-reads",
      ] as Isolation[]
    ) {
      const accounts = ["a", "b", "c", "d"].map((n) => `${isolation}/${n}`);
      for (const a of accounts) await c.put(a, "100");
      // 4 workers, 5 transfers each, between overlapping accounts
      await Promise.all([0, 1, 2, 3].map(async (w) => {
        for (let i = 0; i < 5; i++) {
          const from = accounts[(w + i) % 4], to = accounts[(w + i + 1) % 4];
          await runStm(c, async (s) => {
            const a = Number(await s.get(from)), b = Number(await s.get(to));
            s.put(from, String(a - 7));
            s.put(to, String(b + 7));
          }, { isolation });
        }
      }));
      let total = 0;
      for (const a of accounts) total += Number(await c.getText(a));
      assert.equal(total, 400, `${isolation}: the total changed`);
    }
    // an error in apply aborts with nothing written
    await assert.rejects(
      runStm(c, async (s) => {
        s.put("never", "x");
        throw new Error("no funds");
      }),
      /no funds/,
    );
    assert.equal(await c.get("never"), undefined);
    // prefetch and rev
    await runStm(c, async (s) => {
      assert.ok((await s.rev("serializable/a")) > 0n);
      assert.equal(await s.rev("missing"), 0n);
      s.del("serializable/a");
    }, { prefetch: ["serializable/a", "serializable/b"], isolation: "read-committed" });
    assert.equal(await c.get("serializable/a"), undefined);
  });
});

Deno.test("recipes: a namespace keeps every key, range, txn and watch under its prefix", async () => {
  await onEveryTarget(async (t) => {
    const c = t.client();
    await c.put("outside", "x");
    await c.put("app0", "just past the prefix");
    const ns = new Namespace(c, "app/");
    const w = ns.watch("", { fromKey: true });
    await w.ready;
    await ns.put("k1", "v1");
    await ns.put("k2", "v2");
    assert.equal(text((await ns.get("k1"))!.key), "k1");
    assert.equal(await c.getText("app/k1"), "v1");
    const all = await ns.range("", { fromKey: true });
    assert.deepEqual(all.kvs.map((kv) => text(kv.key)), ["k1", "k2"]);
    const p = await ns.range("k", { prefix: true });
    assert.equal(p.count, 2n);
    const r = await ns.txn()
      .if(cmp.value("k1", "=", "v1"))
      .then(op.put("k3", "v3", { prevKv: true }), op.get("k", { prefix: true }))
      .commit();
    assert.equal(r.succeeded, true);
    const listed = r.responses[1].response;
    assert.equal(listed.case, "responseRange");
    assert.deepEqual(listed.value!.kvs.map((kv) => text(kv.key)), ["k1", "k2", "k3"]);
    const put = await ns.put("k1", "new", { prevKv: true });
    assert.equal(text(put.prevKv!.key), "k1");
    const d = await ns.delete("", { fromKey: true, prevKv: true });
    assert.equal(d.deleted, 3n);
    assert.deepEqual(d.prevKvs.map((kv) => text(kv.key)), ["k1", "k2", "k3"]);
    assert.equal(await c.getText("outside"), "x");
    assert.equal(await c.getText("app0"), "just past the prefix");
    const keys: string[] = [];
    for await (const wr of w) {
      for (const e of wr.events) keys.push(text(e.kv!.key));
      if (keys.length >= 7) break;
    }
    assert.deepEqual(keys, ["k1", "k2", "k3", "k1", "k1", "k2", "k3"]);
  });
});
