/**
 * The fault menu of a whole-cluster run: at each step of the run, maybe one fault: network
 * faults set (drops, duplicates, reorders, delays, damaged snapshots, cut frames), the leader
 * isolated, a minority partitioned (maybe one way), the network healed, a member crashed
 * (power loss or kill -9) or restarted, one member's disk made slow or fast, or filled up; a
 * fault point armed now and then (a member dies when it fires), and points that do not crash
 * (a delay point slowed, defrags failed at defragOpenFileError). Each family draws from the
 * random source it always drew from, so a seed's run stays the run recorded before.
 */
import { Rand } from "../../lib/base/rand.ts";
import type { SimCluster } from "../cluster/sim_cluster.ts";
import { DELAY_POINTS, type DelayPoint, FAULT_POINTS } from "../../lib/base/fault_points.ts";
import type { ArmedFaults, FaultArm } from "./armed_faults.ts";
import type { RunOptions } from "./cluster_run_options.ts";
import type { RunWatchers } from "./cluster_watchers.ts";

/** Crashes and partitions of a run, counted for its result. */
export interface FaultCounts {
  crashes: number;
  partitions: number;
}

/** What the fault menu needs from the run. */
export interface FaultMenuRun {
  c: SimCluster;
  o: RunOptions;
  /** The run's random source (the menu's own draws: which fault, where, how). */
  r: Rand;
  armed: ArmedFaults;
  watchers: RunWatchers;
  counts: FaultCounts;
  /** Members whose disk was made full (their failing on it is expected). */
  diskFull: Set<number>;
  /** The members' ids at the start (partitions name them). */
  ids: readonly bigint[];
  /** How many members may be down at once. */
  maxDown: number;
  /** Indices of the members of the cluster (running or down), in order. */
  current(): number[];
  /** Restarts member i on its disk (and starts its watcher). */
  restart(i: number): Promise<void>;
  /** Adds a line to the run's trace. */
  note(s: string): void;
}

/** The faults a run injects, step by step. */
export class FaultMenu {
  readonly #run: FaultMenuRun;
  readonly #faults: boolean;
  readonly #failpoints: boolean;
  // how often snapshots are damaged: a rand of its own, so the fault menu's draws are unchanged
  readonly #snapRand: Rand;
  // cut message frames: how often from one rand, which frames from another (the network's)
  readonly #frameFaults: boolean;
  readonly #frameSettingRand: Rand;
  readonly #armRand: Rand;
  /** When the last point was armed by the menu. */
  #armedAt = -Infinity;
  readonly #slowPoints: boolean;
  readonly #slowRand: Rand;
  readonly #slowUntil = new Map<DelayPoint, number>();

  constructor(run: FaultMenuRun) {
    const o = run.o;
    this.#run = run;
    this.#faults = o.faults ?? true;
    this.#failpoints = (o.failpoints ?? true) && this.#faults;
    this.#snapRand = new Rand(o.seed ^ 0x54a9);
    this.#frameFaults = (o.frameFaults ?? true) && (o.faults ?? true);
    this.#frameSettingRand = new Rand(o.seed ^ 0xf7a3);
    this.#armRand = new Rand(o.seed ^ 0xfa17);
    this.#slowPoints = this.#failpoints && (o.slowPoints ?? true);
    this.#slowRand = new Rand(o.seed ^ 0x51e3);
  }

  /** Members that died at a fault point: their watchers end, and the run waits for them. */
  async reapFired(): Promise<void> {
    const { c, armed, watchers, counts, note } = this.#run;
    while (armed.unreaped.length > 0) {
      const f = armed.unreaped.shift()!;
      note(`fault point ${f.point} crashed ${c.configs[f.member].name} (${f.how})`);
      watchers.end(f.member);
      await c.settle("a crash", c.reap(f.member), 30_000);
      counts.crashes++;
    }
  }

  /** Now and then a point is armed for an up member (from its own random source). */
  armStep(): void {
    const { c, armed, current, note } = this.#run;
    const armRand = this.#armRand;
    if (!this.#failpoints || !armRand.chance(0.006)) return;
    // a point seldom reached (a snapshot install, a compaction's end) stays armed 2 s before
    // another takes its place: replaced at once, it almost never fired (300 seeds of 3
    // members saw none of 6 of the points)
    if (armed.armed !== null && c.clock.now() - this.#armedAt < 2000) return;
    this.#armedAt = c.clock.now();
    const up = current().filter((i) => c.members[i] !== null);
    if (up.length === 0) return;
    const a: FaultArm = {
      point: armRand.pick(FAULT_POINTS),
      // half of them for one member, the others for whichever member reaches the point first
      member: armRand.chance(0.5) ? armRand.pick(up) : undefined,
      after: armRand.int(3),
      how: armRand.chance(0.6) ? "power" : "process",
    };
    armed.arm(a);
    note(
      `fault point ${a.point} armed for ${
        a.member === undefined ? "any member" : c.configs[a.member].name
      } (after ${a.after} hits, ${a.how})`,
    );
  }

  /**
   * Now and then a point that does not crash (from a rand of its own, so the crash arms and
   * the rest of the run draw as before): a delay point slowed 1-40 ms a hit (the watch's 1-200
   * ms) for one member or all, for 0.3-2 s; or defragOpenFileError armed for the next 1-2
   * defrags of one member or any.
   */
  slowStep(): void {
    const { c, armed, current, note } = this.#run;
    const slowRand = this.#slowRand;
    const slowUntil = this.#slowUntil;
    if (!this.#slowPoints) return;
    for (const [p, t] of slowUntil) {
      if (c.clock.now() >= t) {
        slowUntil.delete(p);
        armed.unslow(p);
        note(`fault point ${p} no longer slowed`);
      }
    }
    if (!slowRand.chance(0.004)) return;
    const up = current().filter((i) => c.members[i] !== null);
    if (up.length === 0) return;
    const member = slowRand.chance(0.5) ? slowRand.pick(up) : undefined;
    const who = member === undefined ? "every member" : c.configs[member].name;
    if (slowRand.chance(0.25)) {
      const count = 1 + slowRand.int(2);
      armed.failDefrags({ member, count });
      note(`fault point defragOpenFileError armed for ${who}: the next ${count} defrags fail`);
      return;
    }
    const point = slowRand.pick(DELAY_POINTS);
    const ms = point === "beforeSendWatchResponse" ? slowRand.range(1, 200) : slowRand.range(1, 40);
    const forMs = slowRand.range(300, 2000);
    armed.slow({ point, member, ms });
    slowUntil.set(point, c.clock.now() + forMs);
    note(`fault point ${point} slowed for ${who}: ${ms} ms a hit, for ${forMs} ms`);
  }

  /** Maybe one fault of the menu (after reaping members that died at a fault point). */
  async faultStep(): Promise<void> {
    const { c, o, r, armed, watchers, counts, diskFull, ids, maxDown, current, restart, note } =
      this.#run;
    // (awaited only when there is one: an await more would move the runs without points)
    if (armed.unreaped.length > 0) await this.reapFired();
    if (!this.#faults || !r.chance(0.04)) return;
    const down = current().filter((i) => c.members[i] === null);
    switch (r.int(8)) {
      case 0: {
        const snapRand = this.#snapRand;
        const frameSettingRand = this.#frameSettingRand;
        const f = {
          dropRate: r.chance(0.5) ? r.float() * 0.1 : 0,
          duplicateRate: r.chance(0.3) ? r.float() * 0.05 : 0,
          reorderRate: r.chance(0.3) ? r.float() * 0.2 : 0,
          minDelayMs: 1,
          maxDelayMs: 1 + r.int(30),
          snapshotFaultRate: o.snapshotFaults !== false && snapRand.chance(0.4)
            ? 0.2 + snapRand.float() * 0.6
            : 0,
          frameFaultRate: this.#frameFaults && frameSettingRand.chance(0.3)
            ? 0.002 + frameSettingRand.float() * 0.02
            : 0,
        };
        c.net.setFaults(f);
        note(`network faults ${JSON.stringify(f)}`);
        break;
      }
      case 1: {
        const l = c.leader();
        if (l === null) break;
        c.net.isolate(l.id);
        counts.partitions++;
        note(`leader ${l.config.name} isolated`);
        break;
      }
      case 2: {
        const minority = r.shuffle(current()).slice(0, 1 + r.int(maxDown));
        const rest = current().filter((i) => !minority.includes(i)).map((i) => ids[i]);
        const oneWay = r.chance(0.3);
        c.net.partition(minority.map((i) => ids[i]), rest, oneWay);
        counts.partitions++;
        note(
          `partition ${minority.map((i) => c.configs[i].name)} from the rest${
            oneWay ? " (one way)" : ""
          }`,
        );
        break;
      }
      case 3:
        c.net.heal();
        note("network healed");
        break;
      case 4: {
        if (down.length >= maxDown) break;
        const up = current().filter((i) => c.members[i] !== null);
        if (up.length === 0) break; // (a lone member that failed on its full disk)
        const i = up[r.int(up.length)];
        const how = r.chance(0.6) ? "power" : "process";
        note(`crash ${c.configs[i].name} (${how})`);
        watchers.end(i);
        await c.settle("a crash", c.crashMember(i, how), 30_000);
        counts.crashes++;
        break;
      }
      case 5: {
        if (down.length === 0) break;
        const i = down[r.int(down.length)];
        note(`restart ${c.configs[i].name}`);
        c.disks[i].capacity = Infinity;
        await restart(i);
        break;
      }
      case 6: {
        // one member's disk turns slow (every fsync waits), or fast again
        if (o.slowDisk === false || current().length === 0) break;
        const i = r.pick(current());
        const ms = r.chance(0.6) ? 2 + r.int(40) : 0;
        c.disks[i].slowSync = ms > 0 ? { clock: c.clock, ms } : null;
        note(`disk of ${c.configs[i].name}: fsync ${ms > 0 ? `takes ${ms} ms` : "fast"}`);
        break;
      }
      case 7: {
        // one member's disk fills up a little after what it holds now: the member must fail
        // (it counts as down) and lose no acknowledged write; its space comes back at restart
        if (down.length >= maxDown || o.diskFull === false) break;
        const up = current().filter((i) => c.members[i] !== null);
        if (up.length === 0) break;
        const i = r.pick(up);
        const d = c.disks[i];
        d.capacity = 0;
        const used = -d.room(); // (room is capacity minus the bytes held)
        d.capacity = used + r.int(16 * 1024);
        diskFull.add(i);
        note(`disk of ${c.configs[i].name} full after ${d.room()} more bytes`);
        break;
      }
    }
  }
}
