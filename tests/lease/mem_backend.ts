/**
 * A temporary in-memory `Backend` for the lease and auth tests until lib/backend's page file
 * lands: buckets of byte keys in bytewise order, with a "durable" copy that only `commit`
 * updates, so tests can reopen from what was committed (or lose what was not).
 */
import type {
  Backend,
  BackendStats,
  BatchTx,
  PinnedReadTx,
  ReadTx,
} from "../../lib/backend/backend.ts";

type Bucket = Map<string, Uint8Array>;
type Buckets = Map<string, Bucket>;

function str(key: Uint8Array): string {
  let s = "";
  for (const b of key) s += String.fromCharCode(b);
  return s;
}

function bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function clone(src: Buckets): Buckets {
  const out: Buckets = new Map();
  for (const [name, b] of src) out.set(name, new Map([...b].map(([k, v]) => [k, v.slice()])));
  return out;
}

class View implements ReadTx {
  constructor(protected buckets: () => Buckets) {}
  get(bucket: string, key: Uint8Array): Uint8Array | undefined {
    return this.buckets().get(bucket)?.get(str(key));
  }
  range(
    bucket: string,
    start: Uint8Array,
    end: Uint8Array | undefined,
    fn: (key: Uint8Array, value: Uint8Array) => boolean | void,
    limit = 0,
  ): void {
    const b = this.buckets().get(bucket);
    if (!b) return;
    const s = str(start);
    const e = end === undefined ? undefined : str(end);
    const keys = [...b.keys()].filter((k) => k >= s && (e === undefined || k < e)).sort();
    let n = 0;
    for (const k of keys) {
      if (fn(bytes(k), b.get(k)!) === false) return;
      if (limit > 0 && ++n >= limit) return;
    }
  }
}

class Batch extends View implements BatchTx {
  createBucket(bucket: string): void {
    if (!this.buckets().has(bucket)) this.buckets().set(bucket, new Map());
  }
  deleteBucket(bucket: string): void {
    this.buckets().delete(bucket);
  }
  put(bucket: string, key: Uint8Array, value: Uint8Array): void {
    const b = this.buckets().get(bucket);
    if (!b) throw new Error(`bucket ${bucket} does not exist`);
    b.set(str(key), value);
  }
  delete(bucket: string, key: Uint8Array): void {
    this.buckets().get(bucket)?.delete(str(key));
  }
}

/** The "disk" of in-memory backends: what was committed survives a reopen. */
export class MemStore {
  durable: Buckets = new Map();
  commits = 0;
}

/** An in-memory Backend over `store`, starting from its committed state. */
export class MemBackend implements Backend {
  #live: Buckets;
  #closed = false;
  readonly read: ReadTx;
  readonly write: BatchTx;
  constructor(readonly store: MemStore = new MemStore()) {
    this.#live = clone(store.durable);
    this.read = new View(() => this.#live);
    this.write = new Batch(() => this.#live);
  }
  commit(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("backend closed"));
    this.store.durable = clone(this.#live);
    this.store.commits++;
    return Promise.resolve();
  }
  async pin(): Promise<PinnedReadTx> {
    await this.commit();
    const snap = clone(this.#live);
    const v = new View(() => snap);
    return { get: v.get.bind(v), range: v.range.bind(v), release: () => {} };
  }
  writeTo(): Promise<number> {
    return Promise.reject(new Error("not supported by the test backend"));
  }
  defrag(): Promise<void> {
    return Promise.resolve();
  }
  stats(): BackendStats {
    return { fileBytes: 0, inUseBytes: 0, commits: this.store.commits };
  }
  async close(): Promise<void> {
    await this.commit();
    this.#closed = true;
  }
}
