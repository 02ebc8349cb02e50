/**
 * A distributed mutex over a session (clientv3/concurrency's Mutex): each contender puts a
 * key `<name>/<lease in hex>` on its session's lease; the lowest create revision holds the
 * lock, and each waiter watches only the contender just ahead of it.
 */
import type { ResponseHeader } from "../../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { Compare } from "../../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { CallOptions } from "../connection.ts";
import { cmp, op } from "../ops.ts";
import { mutexLocked, sessionExpired } from "./errors.ts";
import type { Session } from "./session.ts";
import { waitDeletes } from "./wait_deletes.ts";

/** A mutex named by a key prefix, held through a session. */
export class Mutex {
  /** The session whose lease holds the lock key. */
  readonly session: Session;
  /** The lock's key prefix, `<name>/`. */
  readonly prefix: string;
  /** The contender's key, `<name>/<lease hex>`. */
  readonly key: string;
  #myRev = -1n;
  /** The header of the response that granted the lock. */
  header?: ResponseHeader;

  /** A mutex named `name` (a key prefix) for this session; nothing is sent yet. */
  constructor(session: Session, name: string) {
    this.session = session;
    this.prefix = `${name}/`;
    this.key = `${this.prefix}${session.lease.toString(16)}`;
  }

  async #tryAcquire(opts?: CallOptions) {
    const c = this.session.client;
    const r = await c.txn()
      .if(cmp.createRevision(this.key, "=", 0))
      .then(
        op.put(this.key, "", { lease: this.session.lease }),
        op.get(this.prefix, firstCreate),
      )
      .else(op.get(this.key), op.get(this.prefix, firstCreate))
      .commit(opts);
    const mine = r.responses[0].response;
    this.#myRev = r.succeeded || mine.case !== "responseRange"
      ? r.header!.revision
      : mine.value.kvs[0].createRevision;
    const owner = r.responses[1].response;
    const ownerKvs = owner.case === "responseRange" ? owner.value.kvs : [];
    return {
      r,
      held: ownerKvs.length === 0 || ownerKvs[0].createRevision === this.#myRev,
    };
  }

  /** Takes the lock if it is free; fails with "mutex: Locked by another session" otherwise. */
  async tryLock(opts?: CallOptions): Promise<void> {
    const { r, held } = await this.#tryAcquire(opts);
    if (held) {
      this.header = r.header;
      return;
    }
    await this.session.client.kv.delete(this.key, opts);
    this.#myRev = -1n;
    throw mutexLocked();
  }

  /** Waits until the lock is held. A failed or aborted wait gives up the place in line. */
  async lock(opts?: CallOptions): Promise<void> {
    const { r, held } = await this.#tryAcquire(opts);
    if (held) {
      this.header = r.header;
      return;
    }
    const c = this.session.client;
    try {
      await waitDeletes(c, this.prefix, this.#myRev - 1n, opts?.signal);
      const mine = await c.kv.range(this.key, opts);
      if (mine.kvs.length === 0) throw sessionExpired();
      this.header = mine.header;
    } catch (err) {
      await this.unlock().catch(() => {});
      throw err;
    }
  }

  /** Releases the lock (or the place in line). */
  async unlock(opts?: CallOptions): Promise<void> {
    await this.session.client.kv.delete(this.key, opts);
    this.#myRev = -1n;
  }

  /** The comparison that holds while this mutex is held, to guard a txn with. */
  isOwner(): Compare {
    return cmp.createRevision(this.key, "=", this.#myRev);
  }
}

const firstCreate = {
  prefix: true,
  sort: { target: "create" as const, order: "ascend" as const },
  limit: 1,
};
