/**
 * A cluster of one grows to three with the real etcdctl, as etcd 3.4 does beside it: the one
 * member serves its peer port from the moment it adds a member (Concord starts its peer
 * transport then), each new member is started with the ETCD_* lines `member add` printed, and
 * every member then holds every key and serves linearizable reads and writes.
 */
import assert from "node:assert/strict";
import { freePort } from "../support/etcd.ts";
import { etcdctlSettled, ProcessCluster, type ServerKind } from "./processes.ts";

/** etcdctl, retried until it succeeds (processes.ts). */
const settled = (endpoints: string, ...args: string[]) => etcdctlSettled(endpoints, args);

async function grow(kind: ServerKind): Promise<void> {
  const c = await ProcessCluster.start(kind, 1);
  try {
    await settled(c.endpoints, "put", "k0", "before");
    for (const name of ["m2", "m3"]) {
      const peer = `http://127.0.0.1:${freePort()}`;
      // etcd refuses a voter while a member has been connected for less than 5 s
      const add = await settled(c.endpoints, "member", "add", name, `--peer-urls=${peer}`);
      const i = c.join(add, peer);
      await c.waitHealthy(i);
      await settled(c.endpoints, "put", `k-${name}`, "during");
    }
    assert.equal(c.members.length, 3);
    const list = await settled(c.endpoints, "member", "list");
    for (const name of ["m1", "m2", "m3"]) {
      assert.match(list, new RegExp(`, started, ${name}, `), `${kind}: ${list}`);
    }
    // each member, asked alone, holds every key (a linearizable read through it)
    for (const m of c.members) {
      const got = await settled(m.clientUrl, "get", "k", "--prefix", "--print-value-only");
      assert.equal(got, "during\nduring\nbefore\n", `${kind} ${m.name}`); // k-m2, k-m3, k0
    }
    // and accepts writes
    await settled(c.members[2].clientUrl, "put", "k-last", "after");
    assert.equal(
      await settled(c.members[0].clientUrl, "get", "k-last", "--print-value-only"),
      "after\n",
    );
  } finally {
    await c.stop();
  }
}

Deno.test("grow 1 -> 3 with etcdctl member add: etcd 3.4 (the reference)", () => grow("etcd"));
Deno.test("grow 1 -> 3 with etcdctl member add: Concord", () => grow("concord"));
