/**
 * A simulated disk in memory for deterministic crash and fault tests.
 *
 * It keeps two views of everything: what running code sees (every completed write, rename
 * and removal) and what would survive a power loss (only what was synced). `powerLoss()`
 * throws away the unsynced part the way real hardware can: each unsynced write is kept,
 * dropped, or torn to a prefix, independently and so possibly out of order, chosen by the
 * seeded source. `processCrash()` models `kill -9`: the page cache survives, open handles and
 * locks do not. Directories are durable as soon as they are created; names in them follow
 * the `syncDir()` rule of the `Disk` contract.
 */
import { Rand } from "../base/rand.ts";
import type { Clock } from "./clock.ts";
import {
  AlreadyExistsError,
  basename,
  dirname,
  type Disk,
  type DiskFile,
  DiskFullError,
  NotFoundError,
  type OpenOptions,
  type SyncOptions,
} from "./disk.ts";

/** A growable byte array with a logical length. */
class Content {
  bytes: Uint8Array;
  length: number;

  constructor(bytes = new Uint8Array(0), length = bytes.length) {
    this.bytes = bytes;
    this.length = length;
  }

  clone(): Content {
    return new Content(this.bytes.slice(0, this.length), this.length);
  }

  #ensure(size: number): void {
    if (size <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(size, this.bytes.length * 2, 4096));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  write(offset: number, data: Uint8Array): void {
    const end = offset + data.length;
    this.#ensure(end);
    if (offset > this.length) this.bytes.fill(0, this.length, offset);
    this.bytes.set(data, offset);
    if (end > this.length) this.length = end;
  }

  truncate(size: number): void {
    this.#ensure(size);
    if (size > this.length) this.bytes.fill(0, this.length, size);
    this.length = size;
  }

  read(buf: Uint8Array, offset: number): number {
    if (offset >= this.length) return 0;
    const n = Math.min(buf.length, this.length - offset);
    buf.set(this.bytes.subarray(offset, offset + n));
    return n;
  }
}

type Pending =
  | { kind: "write"; offset: number; data: Uint8Array }
  | { kind: "truncate"; size: number };

/** One file's data: what is visible now, what is durable, and what lies between. */
class SimNode {
  current = new Content();
  durable = new Content();
  pending: Pending[] = [];
  lockHolder: SimFile | null = null;
}

/** What happens to each unsynced write at a power loss. */
export type LossMode = "drop-all" | "keep-all" | "random";

/** Options for a simulated disk. */
export interface SimDiskOptions {
  /** Seeded source for power-loss choices. */
  rand?: Rand;
  /** Total bytes of file data the disk holds; writes beyond fail with DiskFullError. */
  capacity?: number;
}

class SimFile implements DiskFile {
  readonly path: string;
  readonly #disk: SimDisk;
  readonly #node: SimNode;
  readonly #epoch: number;
  readonly #readOnly: boolean;
  #closed = false;

  constructor(disk: SimDisk, path: string, node: SimNode, epoch: number, readOnly: boolean) {
    this.#disk = disk;
    this.path = path;
    this.#node = node;
    this.#epoch = epoch;
    this.#readOnly = readOnly;
  }

  #check(write = false): void {
    if (this.#closed) throw new Error(`file is closed: ${this.path}`);
    if (this.#epoch !== this.#disk.epoch) {
      throw new Error(`file handle lost in a simulated crash: ${this.path}`);
    }
    if (write && this.#readOnly) throw new Error(`file is open read-only: ${this.path}`);
  }

  async readAt(buf: Uint8Array, offset: number): Promise<number> {
    this.#check();
    return this.#node.current.read(buf, offset);
  }

  readAtSync(buf: Uint8Array, offset: number): number {
    this.#check();
    return this.#node.current.read(buf, offset);
  }

  async writeAt(data: Uint8Array, offset: number): Promise<void> {
    this.#check(true);
    const growth = Math.max(0, offset + data.length - this.#node.current.length);
    const room = this.#disk.room();
    if (growth > room) {
      // Like a real ENOSPC: the part that fits may have been written.
      const fits = Math.max(0, this.#node.current.length + room - offset);
      if (fits > 0) this.#apply({ kind: "write", offset, data: data.slice(0, fits) });
      throw new DiskFullError(this.path);
    }
    this.#apply({ kind: "write", offset, data: data.slice() });
  }

  #apply(op: Pending): void {
    if (op.kind === "write") this.#node.current.write(op.offset, op.data);
    else this.#node.current.truncate(op.size);
    this.#node.pending.push(op);
    this.#disk.stats.writes++;
  }

  async sync(_options?: SyncOptions): Promise<void> {
    this.#check();
    if (this.#disk.slowSync !== null) {
      await this.#disk.syncWait();
      this.#check();
    }
    const node = this.#node;
    for (const op of node.pending) {
      if (op.kind === "write") node.durable.write(op.offset, op.data);
      else node.durable.truncate(op.size);
    }
    node.pending = [];
    this.#disk.stats.syncs++;
  }

  async truncate(size: number): Promise<void> {
    this.#check(true);
    const growth = Math.max(0, size - this.#node.current.length);
    if (growth > this.#disk.room()) throw new DiskFullError(this.path);
    this.#apply({ kind: "truncate", size });
  }

  async size(): Promise<number> {
    this.#check();
    return this.#node.current.length;
  }

  async tryLock(): Promise<boolean> {
    this.#check();
    if (this.#node.lockHolder !== null && this.#node.lockHolder !== this) {
      return false;
    }
    this.#node.lockHolder = this;
    return true;
  }

  async close(): Promise<void> {
    if (!this.#closed && this.#node.lockHolder === this) this.#node.lockHolder = null;
    this.#closed = true;
  }
}

/** An in-memory disk with power loss, process crash, disk-full and bit-flip injection. */
export class SimDisk implements Disk {
  #names = new Map<string, SimNode>();
  #durableNames = new Map<string, SimNode>();
  #dirs = new Set<string>(["/", "."]);
  #rand: Rand;
  /** Bytes of file data the disk can hold; Infinity by default. */
  capacity: number;
  /** Increments at every crash; handles from an older epoch fail. */
  epoch = 0;
  /** Counters for tests: writes and syncs issued. */
  readonly stats = { writes: 0, syncs: 0 };
  /**
   * A slow disk: every fsync (file or directory) takes `ms` on `clock` before it makes
   * anything durable (a power loss meanwhile loses what it was syncing); null: instant.
   */
  slowSync: { clock: Clock; ms: number } | null = null;

  /** Fsyncs waiting out their latency: a crash ends them at once (they fail). */
  readonly #syncing = new Set<() => void>();

  /** Waits out the slow-sync latency, if any (a crash meanwhile ends the wait). */
  syncWait(): Promise<void> {
    const s = this.slowSync;
    if (s === null || s.ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#syncing.delete(done);
        timer.cancel();
        resolve();
      };
      const timer = s.clock.after(s.ms, done);
      this.#syncing.add(done);
    });
  }

  #endSyncs(): void {
    for (const done of [...this.#syncing]) done();
  }

  constructor(options: SimDiskOptions = {}) {
    this.#rand = options.rand ?? new Rand(1);
    this.capacity = options.capacity ?? Infinity;
  }

  /**
   * This disk as one process sees it: every operation through the view (directory ones
   * included, not just file handles) fails once the disk has crashed since the view was made.
   * A simulation gives each incarnation of a server its own view, so work the dead one left
   * in flight (a snapshot being renamed into place, say) cannot touch what the next one sees,
   * as no I/O survives a real process.
   */
  process(): Disk {
    const epoch = this.epoch;
    const check = () => {
      if (this.epoch !== epoch) {
        throw new Error(`simulated process of disk epoch ${epoch} is dead (now ${this.epoch})`);
      }
    };
    const guard = <T>(op: () => Promise<T>): Promise<T> => {
      try {
        check();
      } catch (err) {
        return Promise.reject(err);
      }
      return op();
    };
    return {
      open: (path, options) => guard(() => this.open(path, options)),
      exists: (path) => guard(() => this.exists(path)),
      remove: (path) => guard(() => this.remove(path)),
      rename: (from, to) => guard(() => this.rename(from, to)),
      readDir: (path) => guard(() => this.readDir(path)),
      mkdirAll: (path) => guard(() => this.mkdirAll(path)),
      syncDir: (path) => guard(() => this.syncDir(path)),
    };
  }

  /** Bytes still free. */
  room(): number {
    let used = 0;
    for (const node of new Set(this.#names.values())) used += node.current.length;
    return this.capacity - used;
  }

  #requireDir(path: string): void {
    const dir = dirname(path);
    if (!this.#dirs.has(dir)) throw new NotFoundError(dir);
  }

  open(path: string, options: OpenOptions = {}): Promise<DiskFile> {
    try {
      let node = this.#names.get(path);
      if (node && options.createNew) throw new AlreadyExistsError(path);
      if (!node) {
        if (!options.create && !options.createNew) throw new NotFoundError(path);
        this.#requireDir(path);
        node = new SimNode();
        this.#names.set(path, node);
      }
      return Promise.resolve(new SimFile(this, path, node, this.epoch, !!options.readOnly));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  exists(path: string): Promise<boolean> {
    return Promise.resolve(this.#names.has(path) || this.#dirs.has(path));
  }

  remove(path: string): Promise<void> {
    if (!this.#names.delete(path)) return Promise.reject(new NotFoundError(path));
    return Promise.resolve();
  }

  rename(from: string, to: string): Promise<void> {
    const node = this.#names.get(from);
    if (!node) return Promise.reject(new NotFoundError(from));
    try {
      this.#requireDir(to);
    } catch (err) {
      return Promise.reject(err);
    }
    this.#names.delete(from);
    this.#names.set(to, node);
    return Promise.resolve();
  }

  readDir(path: string): Promise<string[]> {
    if (!this.#dirs.has(path)) return Promise.reject(new NotFoundError(path));
    const names = new Set<string>();
    for (const p of this.#names.keys()) if (dirname(p) === path) names.add(basename(p));
    for (const d of this.#dirs) if (d !== path && dirname(d) === path) names.add(basename(d));
    return Promise.resolve([...names].sort());
  }

  mkdirAll(path: string): Promise<void> {
    let p = path;
    while (!this.#dirs.has(p)) {
      this.#dirs.add(p);
      p = dirname(p);
    }
    return Promise.resolve();
  }

  syncDir(path: string): Promise<void> {
    if (!this.#dirs.has(path)) return Promise.reject(new NotFoundError(path));
    if (this.slowSync === null) {
      this.#syncDirNow(path);
      return Promise.resolve();
    }
    const epoch = this.epoch;
    return this.syncWait().then(() => {
      if (this.epoch !== epoch) {
        throw new Error(`directory sync lost in a simulated crash: ${path}`);
      }
      this.#syncDirNow(path);
    });
  }

  #syncDirNow(path: string): void {
    for (const p of [...this.#durableNames.keys()]) {
      if (dirname(p) === path) this.#durableNames.delete(p);
    }
    for (const [p, node] of this.#names) {
      if (dirname(p) === path) this.#durableNames.set(p, node);
    }
    this.stats.syncs++;
  }

  /**
   * Simulates a power loss: open handles die, unsynced names revert, and each unsynced write
   * is kept, dropped or torn according to `mode` (random by default, from the seeded source).
   */
  powerLoss(mode: LossMode = "random"): void {
    this.epoch++;
    this.#endSyncs();
    const survivors = new Map(this.#durableNames);
    for (const node of new Set(survivors.values())) {
      const result = node.durable.clone();
      for (const op of node.pending) {
        const fate = mode === "keep-all" ? 0 : mode === "drop-all" ? 1 : this.#rand.int(3);
        if (fate === 1) continue;
        if (op.kind === "truncate") result.truncate(op.size);
        else if (fate === 0) result.write(op.offset, op.data);
        else result.write(op.offset, op.data.subarray(0, this.#rand.int(op.data.length + 1)));
      }
      node.current = result;
      node.durable = result.clone();
      node.pending = [];
      node.lockHolder = null;
    }
    this.#names = survivors;
    this.#durableNames = new Map(survivors);
  }

  /** Simulates `kill -9` of the process: handles and locks are lost, all written data stays. */
  processCrash(): void {
    this.epoch++;
    this.#endSyncs();
    for (const node of new Set(this.#names.values())) node.lockHolder = null;
  }

  /** Flips the bits in `mask` of the byte at `offset`, in both the visible and durable data. */
  flipBits(path: string, offset: number, mask = 0x01): void {
    const node = this.#names.get(path);
    if (!node) throw new NotFoundError(path);
    for (const content of [node.current, node.durable]) {
      if (offset < content.length) content.bytes[offset] ^= mask;
    }
  }

  /** Overwrites bytes of a file directly and durably, bypassing handles (for corruption tests). */
  poke(path: string, offset: number, data: Uint8Array): void {
    const node = this.#names.get(path);
    if (!node) throw new NotFoundError(path);
    node.current.write(offset, data);
    node.durable.write(offset, data);
  }

  /** A copy of a file's visible bytes (for assertions). */
  contents(path: string): Uint8Array {
    const node = this.#names.get(path);
    if (!node) throw new NotFoundError(path);
    return node.current.bytes.slice(0, node.current.length);
  }
}
