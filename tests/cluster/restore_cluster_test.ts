/**
 * etcd's disaster-recovery procedure, step by step (docs/operations.md), beside etcd 3.4
 * doing the same: a snapshot of a member is restored once per member of a new three-member
 * cluster (`--name`, `--initial-cluster`, `--initial-cluster-token`,
 * `--initial-advertise-peer-urls`), the three start as a new cluster, and every member serves
 * the snapshot's keys at the snapshot's revision and takes writes.
 */
import assert from "node:assert/strict";
import { etcdctlSettled, ProcessCluster, type ServerKind } from "./processes.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** etcdctl, retried until it succeeds (processes.ts). */
const settled = (endpoints: string, ...args: string[]) => etcdctlSettled(endpoints, args);

/** `snapshot restore` with the server's own tool: etcdctl for etcd, `concord util` for us. */
async function restore(kind: ServerKind, file: string, c: ProcessCluster, i: number) {
  const m = c.members[i];
  const flags = [
    `--data-dir=${c.dir}/${m.name}`,
    `--name=${m.name}`,
    `--initial-cluster=${c.initialCluster}`,
    "--initial-cluster-token=test-cluster",
    `--initial-advertise-peer-urls=${m.peerAdvertise}`,
  ];
  const cmd = kind === "etcd"
    ? new Deno.Command("etcdctl", {
      args: ["snapshot", "restore", file, ...flags],
      env: { ETCDCTL_API: "3" },
      stdout: "piped",
      stderr: "piped",
    })
    : new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "util", "snapshot", "restore", file, ...flags],
      stdout: "piped",
      stderr: "piped",
    });
  const out = await cmd.output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

async function disasterRecovery(kind: ServerKind): Promise<void> {
  const work = await Deno.makeTempDir({ prefix: `restore-${kind}-` });
  const file = `${work}/backup.db`;
  let revision = 0;
  const one = await ProcessCluster.start(kind, 1);
  try {
    for (let i = 0; i < 30; i++) await settled(one.endpoints, "put", `k${i}`, `v${i}`);
    await settled(one.endpoints, "del", "k0");
    const st = JSON.parse(await settled(one.endpoints, "get", "k1", "-w", "json"));
    revision = Number(st.header.revision);
    await settled(one.endpoints, "snapshot", "save", file);
  } finally {
    await one.stop();
  }
  const c = await ProcessCluster.start(kind, 3, {
    prepare: async (c) => {
      for (let i = 0; i < 3; i++) await restore(kind, file, c, i);
    },
  });
  try {
    const list = await settled(c.endpoints, "member", "list");
    for (const name of ["m1", "m2", "m3"]) assert.match(list, new RegExp(`, started, ${name}, `));
    for (const m of c.members) {
      const got = JSON.parse(
        await settled(m.clientUrl, "get", "k", "--prefix", "--keys-only", "-w", "json"),
      );
      assert.equal(got.count, 29, `${kind} ${m.name}: the snapshot's keys`);
      assert.equal(Number(got.header.revision), revision, `${kind} ${m.name}: its revision`);
    }
    await settled(c.members[2].clientUrl, "put", "after", "1");
    assert.equal(
      await settled(c.members[0].clientUrl, "get", "after", "--print-value-only"),
      "1\n",
    );
  } finally {
    await c.stop();
    await Deno.remove(work, { recursive: true });
  }
}

Deno.test("restore one snapshot into a new 3-member cluster: etcd 3.4 (the reference)", () =>
  disasterRecovery("etcd"));
Deno.test("restore one snapshot into a new 3-member cluster: Concord", () =>
  disasterRecovery("concord"));
