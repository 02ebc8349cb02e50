/**
 * Where a restart's time goes: opens a stopped member's data dir in this process one part at a
 * time, as `concord serve` opens it (lib/server/member_storage.ts, then the state of
 * lib/server/state.ts), timing each part in wall and CPU milliseconds (CPU is what the part
 * costs; wall also counts the other processes of a shared machine), then starts the member
 * whole (Member.start) on the same dir and times it to its first linearizable read, which
 * adds the raft start, the replay of committed entries the page file does not hold yet, the
 * first election of a lone member and the lessor. Works on a copy of the data dir (it is
 * opened for writing: a torn WAL tail would be repaired), removed at the end.
 *
 *   deno run -A --v8-flags=--heap-growing-percent=100,--max-semi-space-size=8 \
 *     bench/restart_phases.ts <data-dir> [--name=default]
 *
 * `deno task bench:restart --keep` leaves data dirs to point this at (docs/perf.md,
 * "Restart time").
 */
import process from "node:process";
import { RealDisk } from "../lib/io/real_disk.ts";
import { RealClock } from "../lib/io/clock.ts";
import { validSnapshots } from "../lib/wal/inspect.ts";
import { Snapshotter } from "../lib/snap/snapshotter.ts";
import { Wal } from "../lib/wal/wal.ts";
import { openBackend } from "../lib/backend/open.ts";
import { MvccStore } from "../lib/mvcc/kv_store.ts";
import { Lessor } from "../lib/lease/lessor.ts";
import { AuthStore } from "../lib/auth/store.ts";
import { Membership } from "../lib/server/membership.ts";
import { defaultConfig } from "../lib/server/config.ts";
import { Member } from "../lib/server/member.ts";

/** One timed part: wall and CPU milliseconds. */
export interface Phase {
  name: string;
  wallMs: number;
  /** CPU of the whole process (every thread: the page verifier's worker too). */
  cpuMs: number;
  /** CPU of the main thread alone (10 ms ticks): the part's own critical path. */
  mainCpuMs: number;
}

/** The main (JavaScript) thread's user + system CPU milliseconds, from /proc. */
function mainThreadCpuMs(): number {
  const stat = Deno.readTextFileSync(`/proc/self/task/${Deno.pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of stat(5), 12 and 13 after the name
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks * 10;
}

/** Runs the parts in order, timing each. */
class Timer {
  readonly phases: Phase[] = [];
  async time<T>(name: string, part: () => T | Promise<T>): Promise<T> {
    const c0 = process.cpuUsage();
    const m0 = mainThreadCpuMs();
    const t0 = performance.now();
    const out = await part();
    const c = process.cpuUsage(c0);
    this.phases.push({
      name,
      wallMs: performance.now() - t0,
      cpuMs: (c.user + c.system) / 1000,
      mainCpuMs: mainThreadCpuMs() - m0,
    });
    return out;
  }
}

async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) await copyDir(`${from}/${e.name}`, `${to}/${e.name}`);
    else if (e.isFile && e.name !== "wal.lock") {
      await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
      // durable before timing: the opens fsync their files, which would otherwise write the
      // whole copy back and be timed for it (a stopped member's files are synced already)
      const f = await Deno.open(`${to}/${e.name}`, { read: true, write: true });
      await f.sync();
      f.close();
    }
  }
}

/** Times the parts of opening `dataDir` (a copy of it), then a whole Member.start. */
export async function measurePhases(dataDir: string, name: string): Promise<Phase[]> {
  const work = await Deno.makeTempDir({ dir: "/tmp", prefix: "concord-restart-phases-" });
  try {
    const copy = `${work}/data`;
    await copyDir(dataDir, copy);
    const member = `${copy}/member`;
    const disk = new RealDisk();
    const t = new Timer();
    const snapshotter = new Snapshotter(disk, `${member}/snap`, {});
    // from the newest snapshot file's segment on, as bootstrap.ts's newestValidSnapshot lists
    const snaps = await t.time(
      "WAL: list the snapshot markers",
      async () => validSnapshots(disk, `${member}/wal`, await snapshotter.newestIndex()),
    );
    const known = new Set(snaps.map((s) => `${s.index}/${s.term}`));
    const loaded = await t.time(
      "snapshot: load the newest",
      () => snapshotter.load((i, term) => known.has(`${i}/${term}`)),
    );
    const snap = loaded.snapshot?.metadata;
    const opened = await t.time("WAL: read from the snapshot on", () =>
      Wal.open({
        disk,
        dir: `${member}/wal`,
        snapshot: snap ? { index: snap.index, term: snap.term } : undefined,
      }));
    const backend = await t.time(
      "page file: open (sync, metas, freelist)",
      () => openBackend(disk, `${member}/snap/db`, {}),
    );
    const lessor = await t.time(
      "leases: restore",
      () => new Lessor({ backend, clock: new RealClock() }),
    );
    const store = await t.time(
      "mvcc: rebuild the key index",
      () => MvccStore.open(backend, { leases: lessor }),
    );
    await t.time("auth and membership: restore", () => {
      new AuthStore(backend);
      new Membership(backend);
    });
    await store.close();
    await backend.close();
    await opened.wal.close();
    const cfg = defaultConfig(name);
    cfg.dataDir = copy;
    const m = await t.time(
      "member: Member.start (all of the above again, raft start)",
      () => Member.start(cfg, { log: () => {} }),
    );
    try {
      await t.time("member: first linearizable read (replay, election)", async () => {
        await m.ready;
        await m.linearizableRead();
      });
    } finally {
      await m.stop();
    }
    console.log(
      `${opened.contents.entries.length} WAL entries after the snapshot at ${snap?.index ?? 0}; ` +
        `${store.indexSize()} keys in the index, revision ${store.rev()}`,
    );
    return t.phases;
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

if (import.meta.main) {
  const dir = Deno.args.find((a) => !a.startsWith("--"));
  if (dir === undefined) {
    throw new Error("usage: bench/restart_phases.ts <data-dir> [--name=default]");
  }
  const name = Deno.args.find((a) => a.startsWith("--name="))?.slice(7) ?? "default";
  const atStart = performance.now();
  const phases = await measurePhases(dir, name);
  console.log(`modules loaded ${atStart.toFixed(0)} ms after the process started`);
  console.log("| part | wall ms | CPU ms | main thread CPU ms |\n|---|---:|---:|---:|");
  for (const p of phases) {
    console.log(
      `| ${p.name} | ${p.wallMs.toFixed(0)} | ${p.cpuMs.toFixed(0)} | ${p.mainCpuMs.toFixed(0)} |`,
    );
  }
  const load = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  console.log(`load average ${load}`);
}
