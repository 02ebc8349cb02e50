/**
 * Failover against a real three-member etcd 3.4 cluster: while a writer and a watcher run,
 * the member the watcher streams from is killed (kill -9) or frozen (SIGSTOP). Every write
 * the client acknowledged must be in the cluster at the revision it was acknowledged with,
 * and the watcher must see every revision exactly once, in order.
 */
import assert from "node:assert/strict";
import { Client, Errors, GrpcCode, text } from "../../lib/client/mod.ts";
import { grpcTransportForTests } from "./targets.ts";
import { startConcordCluster, startEtcdCluster } from "./etcd_cluster.ts";

async function failover(how: "SIGKILL" | "SIGSTOP", on: "etcd" | "concord") {
  const cluster = on === "etcd" ? await startEtcdCluster() : await startConcordCluster();
  // one endpoint given: the others are learned from the member list (auto-sync)
  const client = new Client({
    endpoints: [cluster.urls[0]],
    autoSyncIntervalMs: 100,
    transport: grpcTransportForTests(),
    watchProbeIntervalMs: 500,
    watchProbeTimeoutMs: 1000,
  });
  try {
    const synced = Date.now() + 5000;
    while (client.endpoints.length < 3) {
      if (Date.now() > synced) throw new Error(`endpoints not synced: ${client.endpoints}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual([...client.endpoints].sort(), [...cluster.urls].sort());
    // a lease kept alive through the failure: the key on it must outlive the TTL
    const { ID } = await client.lease.grant(3);
    const ka = client.lease.keepAlive(ID);
    await client.put("held", "x", { lease: ID });
    const start = (await client.put("f/start", "0")).header!.revision;
    const watch = client.watch("f/", { prefix: true, startRevision: start + 1n });
    await watch.ready;
    const seen: bigint[] = [];
    const watching = (async () => {
      for await (const r of watch) for (const e of r.events) seen.push(e.kv!.modRevision);
    })();

    const acked = new Map<string, bigint>();
    let failed = 0;
    let stop = false;
    const writing = (async () => {
      for (let i = 0; !stop; i++) {
        try {
          const r = await client.put(`f/${i}`, `${i}`, { timeoutMs: 2000 });
          acked.set(`f/${i}`, r.header!.revision);
        } catch {
          // unacknowledged: it may or may not be there; only acked writes are checked
          failed++;
        }
      }
    })();

    // let both run, then fail the watcher's member
    while (acked.size < 50) await new Promise((r) => setTimeout(r, 20));
    const victim = cluster.urls.indexOf(watch.endpoint!);
    assert.ok(victim >= 0, `the watch is on ${watch.endpoint}`);
    const ackedBefore = acked.size;
    cluster.signal(victim, how);
    const killedAt = Date.now();
    // keep writing until the watch moved elsewhere and writes went on after it
    const deadline = Date.now() + 15_000;
    while (watch.resumes === 0 || acked.size < ackedBefore + 100) {
      if (Date.now() > deadline) {
        throw new Error(`no failover: resumes=${watch.resumes} acked=${acked.size}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    stop = true;
    await writing;
    // past the lease's TTL since the failure began
    while (Date.now() < killedAt + 3500) await new Promise((r) => setTimeout(r, 50));
    assert.notEqual(await client.get("held"), undefined, "the kept-alive lease expired");
    ka.cancel();
    await ka.done;

    // the cluster's state, from a live member
    const r = await client.range("f/", { prefix: true, timeoutMs: 5000 });
    await client.lease.revoke(ID);
    const final = r.header!.revision;
    const inCluster = new Map(r.kvs.map((kv) => [text(kv.key), kv.modRevision]));
    for (const [key, rev] of acked) {
      assert.equal(inCluster.get(key), rev, `acknowledged ${key}@${rev} is missing`);
    }
    // each key was put once by the writer: a version above 1 is a write the client resent
    // after it had been applied
    for (const kv of r.kvs) assert.equal(kv.version, 1n, `${text(kv.key)} was written twice`);

    const until = Date.now() + 10_000;
    while (watch.nextRevision <= final) {
      if (Date.now() > until) throw new Error(`watch stuck at ${watch.nextRevision} < ${final}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    watch.cancel();
    await watching;
    const expected = Array.from(
      { length: Number(final - start) },
      (_, i) => start + 1n + BigInt(i),
    );
    assert.deepEqual(seen, expected, "every revision exactly once, in order");
    console.log(
      `${how}: acked=${acked.size} failed=${failed} revisions=${seen.length} resumes=${watch.resumes}`,
    );
  } finally {
    await client.close();
    await cluster.stop();
  }
}

for (const on of ["etcd", "concord"] as const) {
  Deno.test(`failover (${on}): kill -9 of the watcher's member loses no acked write and no event`, async () => {
    await failover("SIGKILL", on);
  });

  Deno.test(`failover (${on}): SIGSTOP of the watcher's member loses no acked write and no event`, async () => {
    await failover("SIGSTOP", on);
  });
}

for (const on of ["etcd", "concord"] as const) {
  Deno.test(`failover (${on}): a member without a leader answers 'no leader' at once; reads move on`, async () => {
    const cluster = on === "etcd" ? await startEtcdCluster() : await startConcordCluster();
    const only2 = new Client({ endpoints: [cluster.urls[2]], transport: grpcTransportForTests() });
    const all = new Client({ endpoints: cluster.urls, transport: grpcTransportForTests() });
    try {
      await all.put("nl", "1");
      // members 0 and 1 frozen: member 2 loses its leader (or was it, and steps down)
      cluster.signal(0, "SIGSTOP");
      cluster.signal(1, "SIGSTOP");
      const until = Date.now() + 10_000;
      for (;;) {
        // retried until the deadline, which then names the last failure
        const err = await only2.put("nl", "2", { timeoutMs: 1500 }).then(() => undefined, (e) => e);
        if (err?.code === GrpcCode.DeadlineExceeded && Errors.noLeader.is(err.cause)) break;
        if (Date.now() > until) throw new Error(`no 'no leader' from member 2: ${err}`);
      }
      // a read through all members: 0 and 1 do not answer, 2 has no leader; once 0 and 1
      // are back a leader is elected and the same client reads
      cluster.signal(0, "SIGCONT");
      cluster.signal(1, "SIGCONT");
      // "2" when a put that timed out before the leader was lost got committed later: a
      // deadline does not say whether a write was applied
      assert.match((await all.getText("nl", { timeoutMs: 10_000 }))!, /^[12]$/);
      await all.put("nl", "3", { timeoutMs: 10_000 });
      assert.equal(await only2.getText("nl", { timeoutMs: 10_000 }), "3");
    } finally {
      await only2.close();
      await all.close();
      await cluster.stop();
    }
  });
}
