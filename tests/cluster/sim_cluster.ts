/**
 * An in-process cluster of real members over the simulated network, disk and clock: the
 * same member code `concord serve` runs, driven step by step from one seed. Tests step the
 * clock until a state holds (never sleep for it) and fault the network between steps.
 */
import { create } from "@bufbuild/protobuf";
import { Rand } from "../../lib/base/rand.ts";
import { SimClock } from "../../lib/io/clock.ts";
import { ProcessClock } from "./process_clock.ts";
import { SimDisk } from "../../lib/io/sim_disk.ts";
import { SimNetwork, type SimNetworkOptions } from "../../lib/transport/sim_network.ts";
import type { Transport } from "../../lib/transport/transport.ts";
import type { FaultPoints } from "../../lib/base/fault_points.ts";
import { defaultConfig, type ServerConfig } from "../../lib/server/config.ts";
import { type Applied, Member, type MemberOptions } from "../../lib/server/member.ts";
import { RequestKind } from "../../lib/server/request.ts";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";

const enc = new TextEncoder();

/** What a sim cluster is made of. */
export interface SimClusterOptions {
  size: number;
  seed: number;
  network?: SimNetworkOptions;
  /** Changes to every member's configuration. */
  configure?: (c: ServerConfig, i: number) => void;
  member?: Partial<MemberOptions>;
  /**
   * Member i's wall clock runs `i * wallSkewMs` ahead of the shared one (default 0: all equal).
   * Real hosts' wall clocks differ; the monotonic time and timers stay shared.
   */
  wallSkewMs?: number;
  /** Member i's fault points (lib/base/fault_points.ts), given to each of its incarnations. */
  faults?: (i: number) => FaultPoints;
}

/** A running simulated cluster. */
export class SimCluster {
  readonly clock: SimClock;
  readonly net: SimNetwork;
  readonly disks: SimDisk[] = [];
  readonly configs: ServerConfig[] = [];
  readonly members: (Member | null)[] = [];
  readonly log: string[] = [];
  readonly #opts: SimClusterOptions;
  /** A macrotask turn (after every pending microtask) costs ~40 us this way, 2.5 ms by timer. */
  readonly #turn = new MessageChannel();
  /** Each member's latest transport, closed at once when it dies at a fault point. */
  readonly #transports: (Transport | null)[] = [];
  /** The stops of members that died at a fault point, until `reap` awaits them. */
  readonly #dying: (Promise<void> | null)[] = [];
  /** Each member's latest incarnation's clock: its timers end when it crashes. */
  readonly #clocks: (ProcessClock | null)[] = [];

  private constructor(opts: SimClusterOptions) {
    this.#opts = opts;
    this.clock = new SimClock(0);
    this.net = new SimNetwork(new Rand(opts.seed), this.clock, {
      trace: false,
      ...opts.network,
    });
    const names = Array.from({ length: opts.size }, (_, i) => `m${i + 1}`);
    const initial = new Map(names.map((n) => [n, [new URL(`http://${n}.sim:2380`)]]));
    for (let i = 0; i < opts.size; i++) {
      const c = defaultConfig(names[i]);
      c.dataDir = `/sim/${names[i]}`;
      c.initialCluster = initial;
      c.initialAdvertisePeerUrls = initial.get(names[i])!;
      c.listenPeerUrls = c.initialAdvertisePeerUrls;
      c.advertiseClientUrls = [new URL(`http://${names[i]}.sim:2379`)];
      // etcd's ratio of 1:10, ten times faster: fewer steps per election
      c.heartbeatIntervalMs = 10;
      c.electionTimeoutMs = 100;
      opts.configure?.(c, i);
      this.configs.push(c);
      this.disks.push(new SimDisk({ rand: new Rand(opts.seed * 31 + i) }));
      this.members.push(null);
      this.#transports.push(null);
      this.#dying.push(null);
      this.#clocks.push(null);
    }
  }

  /** Makes the cluster and starts every member. */
  static async start(opts: SimClusterOptions): Promise<SimCluster> {
    const c = new SimCluster(opts);
    for (let i = 0; i < opts.size; i++) await c.startMember(i);
    return c;
  }

  /** Starts (or restarts) member i on its disk. */
  async startMember(i: number): Promise<Member> {
    // a process of its own: its timers end with it (a joiner's index may be new)
    const clock = new ProcessClock(this.clock, i * (this.#opts.wallSkewMs ?? 0));
    this.#clocks[i] = clock;
    let m: Member;
    try {
      m = await Member.start(this.configs[i], {
        disk: this.disks[i].process(),
        clock,
        transport: (host) => (this.#transports[i] = this.net.join(host)),
        faults: this.#opts.faults?.(i),
        raftSeed: this.#opts.seed * 7 + i,
        // 64 MiB segments (and the next one made ahead) would be 64 MiB buffers per member here
        walSegmentBytes: 256 * 1024,
        log: (l) => this.log.push(`${this.configs[i].name}: ${l}`),
        ...this.#opts.member,
      });
    } catch (err) {
      clock.kill(); // a process that exits on a refusal leaves nothing running
      throw err;
    }
    this.members[i] = m;
    return m;
  }

  /** Stops member i cleanly (its transport leaves the network). */
  async stopMember(i: number): Promise<void> {
    const m = this.members[i];
    this.members[i] = null;
    await m?.stop();
  }

  /**
   * Crashes member i: its disk loses power (unsynced writes kept, dropped or torn at random)
   * or its process dies (`kill -9`: all written data stays), and its timers end at once; then
   * the rest of what the dead process held (its transport's place on the network) ends. Its disk view is dead, so the stop's
   * own writes fail: that failure is the crash, and nothing of it is kept.
   */
  async crashMember(i: number, how: "power" | "process"): Promise<void> {
    const m = this.members[i];
    if (m === null) return;
    this.members[i] = null;
    if (how === "power") this.disks[i].powerLoss("random");
    else this.disks[i].processCrash();
    this.#clocks[i]?.kill();
    await m.stop().then(() => {}, () => {});
  }

  /**
   * Member i dies now, in the middle of whatever it runs (a fault point): its disk loses power
   * or its process is killed, its timers end (none fires again: docs/testing.md, defect 15),
   * its transport leaves the network (messages already sent may still arrive, as from a real
   * process), and its stop begins (every wait fails), so nothing
   * it does after this instant reaches the disk, a peer or a client. Synchronous: the caller
   * goes on inside a dead member. `reap` waits for what the dead process left running.
   */
  crashNow(i: number, how: "power" | "process"): void {
    const m = this.members[i];
    if (m === null) return;
    this.members[i] = null;
    if (how === "power") this.disks[i].powerLoss("random");
    else this.disks[i].processCrash();
    this.#clocks[i]?.kill();
    void this.#transports[i]?.close();
    this.#dying[i] = m.stop().then(() => {}, () => {});
  }

  /** Waits until member i, crashed by `crashNow`, has stopped (at once when it was not). */
  async reap(i: number): Promise<void> {
    const dying = this.#dying[i];
    this.#dying[i] = null;
    await dying;
  }

  /** The running members. */
  get live(): Member[] {
    return this.members.filter((m): m is Member => m !== null);
  }

  /** The leader every running member agrees on, or null. */
  leader(among: Member[] = this.live): Member | null {
    const l = among.find((m) => m.isLeader);
    if (l === undefined) return null;
    return among.every((m) => m.leader === l.id) ? l : null;
  }

  /** One step: the clock moves `ms` and everything that became runnable runs. */
  async step(ms = 10): Promise<void> {
    this.clock.advance(ms);
    await new Promise((r) => {
      this.#turn.port1.onmessage = r;
      this.#turn.port2.postMessage(0);
    });
  }

  /** Steps until `pred` holds; fails after `maxMs` of simulated time. */
  async until(what: string, pred: () => boolean, maxMs = 20_000): Promise<void> {
    const end = this.clock.now() + maxMs;
    while (!pred()) {
      if (this.clock.now() > end) {
        throw new Error(
          `seed=${this.#opts.seed}: ${what} did not happen within ${maxMs} ms of simulated time\n` +
            this.log.slice(-15).join("\n"),
        );
      }
      await this.step();
    }
  }

  /** Resolves `p` while stepping the clock (a proposal needs ticks and deliveries). */
  async settle<T>(what: string, p: Promise<T>, maxMs = 20_000): Promise<T> {
    let done = false;
    let value: T | undefined;
    let error: unknown = undefined;
    let failed = false;
    p.then((v) => {
      done = true;
      value = v;
    }, (e) => {
      done = true;
      failed = true;
      error = e;
    });
    await this.until(what, () => done, maxMs);
    if (failed) throw error;
    return value as T;
  }

  /** A put through member `m`, stepped until it is answered. */
  put(m: Member, key: string, value: string): Promise<Applied> {
    return this.settle(
      `put ${key} through ${m.config.name}`,
      m.propose({
        kind: RequestKind.Put,
        req: create(pb.PutRequestSchema, { key: enc.encode(key), value: enc.encode(value) }),
      }),
    );
  }

  /** Stops every running member. */
  async stop(): Promise<void> {
    for (let i = 0; i < this.members.length; i++) await this.stopMember(i);
    this.#turn.port1.close();
  }
}
