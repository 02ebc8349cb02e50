/**
 * Recovery from the loss of quorum with `--force-new-cluster`, beside etcd 3.4 doing the
 * same: two of three members are killed for good, the survivor is restarted with the flag
 * and serves alone with every acknowledged key, its membership is itself only, and it grows
 * again with `member add`.
 */
import assert from "node:assert/strict";
import { freePort } from "../support/etcd.ts";
import { etcdctl, etcdctlSettled, ProcessCluster, type ServerKind } from "./processes.ts";

/** etcdctl, retried until it succeeds (processes.ts). */
const settled = (endpoints: string, ...args: string[]) => etcdctlSettled(endpoints, args);

async function recover(kind: ServerKind): Promise<void> {
  const c = await ProcessCluster.start(kind, 3);
  try {
    for (let i = 0; i < 20; i++) await settled(c.endpoints, "put", `k${i}`, `v${i}`);
    const m1 = c.members[0].clientUrl;
    await c.signal(1, "SIGKILL");
    await c.signal(2, "SIGKILL");
    // no quorum: the survivor cannot take a write
    const refused = await etcdctl(m1, "--command-timeout=2s", "put", "lost", "x");
    assert.notEqual(refused.code, 0, `${kind}: a write without quorum must fail`);
    await c.signal(0, "SIGKILL");
    c.spawn(0, ["--force-new-cluster"]);
    await c.waitHealthy(0);
    const keys = await settled(m1, "get", "k", "--prefix", "--keys-only");
    assert.equal(keys.split("\n").filter((l) => l !== "").length, 20, `${kind}: every key kept`);
    const list = await settled(m1, "member", "list");
    assert.equal(list.trim().split("\n").length, 1, `${kind}: one member left:\n${list}`);
    assert.match(list, /, started, m1, /);
    await settled(m1, "put", "after", "1");
    // and it grows again
    const peer = `http://127.0.0.1:${freePort()}`;
    const add = await settled(m1, "member", "add", "m4", `--peer-urls=${peer}`);
    const i = c.join(add, peer);
    await c.waitHealthy(i);
    const got = await settled(c.members[i].clientUrl, "get", "after", "--print-value-only");
    assert.equal(got, "1\n");
  } finally {
    await c.stop();
  }
}

Deno.test("--force-new-cluster after losing two of three: etcd 3.4 (the reference)", () =>
  recover("etcd"));
Deno.test("--force-new-cluster after losing two of three: Concord", () => recover("concord"));
