/**
 * A snapshot made by the real etcd 3.4 (`etcdctl snapshot save`), with what etcd served just
 * before it, for the tests of reading etcd's files (tests/backend/bbolt_*, tests/cli/…etcd…).
 *
 * The data exercises every bucket and format corner: overwritten and deleted keys (tombstones),
 * a transaction of 100 puts (sub revisions), values larger than a page (overflow pages), a
 * lease with two keys, a compaction, users with bcrypt passwords, a role with a permission,
 * and auth enabled.
 */
import assert from "node:assert/strict";
import { etcdctl } from "../server/harness.ts";
import { type EtcdProcess, freePort, startEtcd } from "./etcd.ts";

/** The root user's password in the snapshot. */
export const ROOT_PW = "rootpw";
/** alice (role `reader`: read on prefix `k`) and her password. */
export const ALICE_PW = "alice-pw";
/** The revision `compact` was run at. */
export const COMPACTED = 6;
/** A revision after the compaction at which `a` had an older value ("11"). */
export const OLD_REV = 8;

/** What etcd served before the snapshot was saved. */
export interface EtcdSnapshotFixture {
  /** The snapshot file. */
  file: string;
  /** `etcdctl get --prefix "" -w json` as root. */
  all: EtcdGetJson;
  /** `etcdctl get a --rev OLD_REV -w json` as root. */
  old: EtcdGetJson;
  /** The lease's id (decimal, as JSON prints it) and its granted TTL. */
  lease: { id: string; ttl: number };
  /** `etcdctl snapshot status FILE -w json` by etcd's own etcdctl. */
  status: { hash: number; revision: number; totalKey: number; totalSize: number };
}

/** etcdctl's JSON of a range (64-bit ids kept as text). */
export interface EtcdGetJson {
  header: { revision: number };
  kvs: {
    key: string;
    value?: string;
    create_revision: number;
    mod_revision: number;
    version: number;
    lease?: string;
  }[];
  count: number;
}

/** Parses etcdctl JSON, keeping lease ids (beyond 2^53) exact. */
export function parseGetJson(text: string): EtcdGetJson {
  return JSON.parse(text.replace(/"lease":(\d+)/g, '"lease":"$1"'));
}

/** Runs etcdctl (as `user`, fed `stdin`) and fails the test on an error. */
export async function ctlOk(
  url: string,
  args: string[],
  opts: { user?: string; stdin?: string } = {},
): Promise<string> {
  const r = await etcdctl(url, [...(opts.user ? ["--user", opts.user] : []), ...args], opts.stdin);
  assert.equal(r.code, 0, `etcdctl ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** Starts etcd, fills it, saves a snapshot to `file`, stops etcd. */
export async function makeEtcdSnapshot(file: string): Promise<EtcdSnapshotFixture> {
  const etcd = await startEtcd();
  try {
    const u = etcd.url;
    const root = `root:${ROOT_PW}`;
    await ctlOk(u, ["put", "a", "1"]); // 2
    await ctlOk(u, ["put", "b", "2"]); // 3
    await ctlOk(u, ["put", "a", "11"]); // 4
    await ctlOk(u, ["del", "b"]); // 5
    const puts = (from: number, to: number, v: string) =>
      Array.from({ length: to - from }, (_, i) => `put k${String(from + i).padStart(3, "0")} ${v}`)
        .join("\n");
    await ctlOk(u, ["txn"], { stdin: `\n${puts(0, 100, "first")}\n\n\n` }); // 6
    await ctlOk(u, ["compact", String(COMPACTED)]);
    await ctlOk(u, ["txn"], { stdin: `\n${puts(50, 150, "second")}\n\n\n` }); // 7
    for (let i = 1; i <= 3; i++) {
      await ctlOk(u, ["put", `big${i}`, String(i).repeat(6000 * i)]); // 8, 9, 10
    }
    const granted = await ctlOk(u, ["lease", "grant", "600"]);
    const leaseHex = /lease ([0-9a-f]+) granted/.exec(granted)![1];
    await ctlOk(u, ["put", "c", "3", `--lease=${leaseHex}`]); // 11
    await ctlOk(u, ["put", "d", "4", `--lease=${leaseHex}`]); // 12
    await ctlOk(u, ["put", "a", "111"]); // 13
    await ctlOk(u, ["del", "k00", "--prefix"]); // 14: tombstones k000..k009
    await ctlOk(u, ["user", "add", root]);
    await ctlOk(u, ["user", "grant-role", "root", "root"]);
    await ctlOk(u, ["role", "add", "reader"]);
    await ctlOk(u, ["role", "grant-permission", "reader", "read", "k", "--prefix"]);
    await ctlOk(u, ["user", "add", `alice:${ALICE_PW}`]);
    await ctlOk(u, ["user", "grant-role", "alice", "reader"]);
    await ctlOk(u, ["auth", "enable"]);
    const all = parseGetJson(await ctlOk(u, ["get", "", "--prefix", "-w", "json"], { user: root }));
    const old = parseGetJson(
      await ctlOk(u, ["get", "a", "--rev", String(OLD_REV), "-w", "json"], { user: root }),
    );
    await ctlOk(u, ["snapshot", "save", file], { user: root });
    const status = JSON.parse(await ctlOk(u, ["snapshot", "status", file, "-w", "json"]));
    return { file, all, old, lease: { id: BigInt("0x" + leaseHex).toString(), ttl: 600 }, status };
  } finally {
    await etcd.stop();
  }
}

/**
 * `etcdctl snapshot restore FILE` (etcd's own, 3.4) into `dataDir` as member `name`, then
 * etcd started on it on free loopback ports; resolves once /health says true (20 s at most).
 * `stop` kills etcd and leaves the data dir to the caller.
 */
export async function restoreAndStartEtcd(file: string, dataDir: string): Promise<EtcdProcess> {
  const name = "restored";
  const peer = `http://127.0.0.1:${freePort()}`;
  const url = `http://127.0.0.1:${freePort()}`;
  const restore = await new Deno.Command("etcdctl", {
    args: [
      "snapshot",
      "restore",
      file,
      `--data-dir=${dataDir}`,
      `--name=${name}`,
      `--initial-cluster=${name}=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
    ],
    env: { ETCDCTL_API: "3" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(restore.code, 0, new TextDecoder().decode(restore.stderr));
  const child = new Deno.Command("etcd", {
    args: [
      `--name=${name}`,
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=${name}=${peer}`,
      "--logger=zap",
      "--log-level=error",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already exited
    }
    await child.status;
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const r = await fetch(`${url}/health`);
      if (r.status === 200 && (await r.text()).includes("true")) break;
      await r.body?.cancel();
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error("the restored etcd did not become healthy in 20 s");
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url, pid: child.pid, stop };
}

/** etcd's own `etcdctl snapshot status FILE -w json` (bbolt's check and etcd's hash); fails the test on an error. */
export async function etcdSnapshotStatus(file: string): Promise<EtcdSnapshotFixture["status"]> {
  const r = await new Deno.Command("etcdctl", {
    args: ["snapshot", "status", file, "-w", "json"],
    env: { ETCDCTL_API: "3" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  return JSON.parse(new TextDecoder().decode(r.stdout));
}
