/**
 * A transaction: a consistent snapshot of the file (the meta it started from) plus, when
 * writable, the edits made in it. Any number of read transactions run beside one write
 * transaction; a read transaction keeps the pages it can see from being reused until it ends.
 */
import { Bucket, type TxContext } from "./bucket.ts";
import type { Cursor } from "./cursor.ts";
import { treePage } from "./cursor.ts";
import { ClosedError, UsageError } from "./errors.ts";
import type { Meta } from "./meta.ts";
import { Node } from "./node.ts";
import { pageOverflow } from "./page.ts";
import type { PageSource } from "./pager.ts";

/** What a transaction needs from its database. */
export interface TxOwner {
  readonly pager: PageSource;
  /** Called once when the transaction commits or rolls back. */
  finish(tx: Tx, committed: boolean): Promise<void>;
}

/** A read or write transaction. */
export class Tx implements TxContext {
  readonly writable: boolean;
  /** The snapshot this transaction reads (for a writer: the state it builds on). */
  readonly meta: Meta;
  /** The root bucket, whose keys are the top-level buckets. */
  readonly root: Bucket;
  readonly pageSize: number;
  readonly #owner: TxOwner;
  readonly #pager: PageSource;
  /** Page spans freed by this transaction: id, span, id, span, ... */
  readonly freed: number[] = [];
  #done = false;

  constructor(owner: TxOwner, meta: Meta, writable: boolean) {
    this.#owner = owner;
    this.#pager = owner.pager;
    this.pageSize = owner.pager.pageSize;
    this.meta = meta;
    this.writable = writable;
    this.root = new Bucket(this, meta.root, null, null);
  }

  /** True once committed or rolled back. */
  get done(): boolean {
    return this.#done;
  }

  checkOpen(): void {
    if (this.#done) throw new ClosedError("transaction is closed");
  }

  page(id: number): Uint8Array {
    return this.#pager.page(id);
  }

  get limit(): number {
    return this.#pager.limit;
  }

  cachedPage(id: number): Uint8Array | undefined {
    return this.#pager.cachedPage(id);
  }

  readRaw(buf: Uint8Array, id: number): void {
    this.#pager.readRaw(buf, id);
  }

  materialize(id: number): Node {
    const p = treePage(this.#pager, id);
    this.freed.push(id, pageOverflow(p) + 1);
    return Node.fromPage(p, id);
  }

  freePage(id: number, span: number): void {
    this.freed.push(id, span);
  }

  /** The top-level bucket `name`, or undefined. */
  bucket(name: Uint8Array): Bucket | undefined {
    return this.root.bucket(name);
  }

  /** Creates the top-level bucket `name`; throws if it exists. */
  createBucket(name: Uint8Array): Bucket {
    return this.root.createBucket(name);
  }

  /** The top-level bucket `name`, created when missing. */
  createBucketIfNotExists(name: Uint8Array): Bucket {
    return this.root.createBucketIfNotExists(name);
  }

  /** Deletes the top-level bucket `name` and everything in it. */
  deleteBucket(name: Uint8Array): void {
    this.root.deleteBucket(name);
  }

  /** A cursor over the top-level bucket names. */
  cursor(): Cursor {
    return this.root.cursor();
  }

  /**
   * Commits: the edits become a new snapshot at once (readers started afterwards see it) and
   * durable when the returned promise resolves. A failure leaves the file at the previous
   * commit and fails the database.
   */
  commit(): Promise<void> {
    if (!this.writable) {
      return Promise.reject(new UsageError("cannot commit a read-only transaction"));
    }
    if (this.#done) return Promise.reject(new ClosedError("transaction is closed"));
    this.#done = true;
    return this.#owner.finish(this, true);
  }

  /** Ends the transaction without changing anything. */
  rollback(): void {
    if (this.#done) return;
    this.#done = true;
    void this.#owner.finish(this, false);
  }
}
