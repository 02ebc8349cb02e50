/**
 * Leader election over a session (clientv3/concurrency's Election): each candidate puts
 * `<name>/<lease in hex>` holding its value; the lowest create revision leads. The leader
 * proclaims new values in place; resigning or losing the session hands leadership on.
 */
import type { KeyValue } from "../../../proto/gen/mvccpb/kv_pb.ts";
import { Event_EventType } from "../../../proto/gen/mvccpb/kv_pb.ts";
import type { ResponseHeader } from "../../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { Bytes } from "../bytes.ts";
import type { CallOptions } from "../connection.ts";
import { cmp, op } from "../ops.ts";
import { electionNoLeader, electionNotLeader, sessionExpired } from "./errors.ts";
import type { Session } from "./session.ts";
import { waitDeletes } from "./wait_deletes.ts";

const firstCreate = {
  prefix: true,
  sort: { target: "create" as const, order: "ascend" as const },
  limit: 1,
};

/** One candidate's view of an election named by a key prefix. */
export class Election {
  /** The session whose lease holds the candidate's key. */
  readonly session: Session;
  /** The election's key prefix, `<name>/`. */
  readonly prefix: string;
  /** This candidate's key while campaigning or leading. */
  leaderKey = "";
  #leaderRev = -1n;
  /** The header of the response that made this candidate leader. */
  header?: ResponseHeader;

  /** The election `name` (a key prefix) as seen by this session; nothing is sent yet. */
  constructor(session: Session, name: string) {
    this.session = session;
    this.prefix = `${name}/`;
  }

  /** Waits until this candidate leads, announcing `value`. */
  async campaign(value: Bytes, opts?: CallOptions): Promise<void> {
    const c = this.session.client;
    const key = `${this.prefix}${this.session.lease.toString(16)}`;
    const r = await c.txn()
      .if(cmp.createRevision(key, "=", 0))
      .then(op.put(key, value, { lease: this.session.lease }))
      .else(op.get(key))
      .commit(opts);
    this.leaderKey = key;
    this.#leaderRev = r.header!.revision;
    if (!r.succeeded) {
      const got = r.responses[0].response;
      const kv = got.case === "responseRange" ? got.value.kvs[0] : undefined;
      if (!kv) throw sessionExpired();
      this.#leaderRev = kv.createRevision;
      if (new TextDecoder().decode(kv.value) !== toText(value)) await this.proclaim(value, opts);
    }
    try {
      await waitDeletes(c, this.prefix, this.#leaderRev - 1n, opts?.signal);
      const mine = await c.kv.range(key, opts);
      if (mine.kvs.length === 0) throw sessionExpired();
      this.header = mine.header;
    } catch (err) {
      await this.resign().catch(() => {});
      throw err;
    }
  }

  /** Announces a new value; fails with "election: not leader" unless leading. */
  async proclaim(value: Bytes, opts?: CallOptions): Promise<void> {
    if (this.leaderKey === "") throw electionNotLeader();
    const r = await this.session.client.txn()
      .if(cmp.createRevision(this.leaderKey, "=", this.#leaderRev))
      .then(op.put(this.leaderKey, value, { lease: this.session.lease }))
      .commit(opts);
    if (!r.succeeded) {
      this.leaderKey = "";
      throw electionNotLeader();
    }
  }

  /** Gives up leadership (or the candidacy). */
  async resign(opts?: CallOptions): Promise<void> {
    if (this.leaderKey === "") return;
    await this.session.client.txn()
      .if(cmp.createRevision(this.leaderKey, "=", this.#leaderRev))
      .then(op.delete(this.leaderKey))
      .commit(opts);
    this.leaderKey = "";
    this.#leaderRev = -1n;
  }

  /** The current leader's key-value; fails with "election: no leader" when none. */
  async leader(opts?: CallOptions): Promise<KeyValue> {
    const r = await this.session.client.range(this.prefix, { ...firstCreate, ...opts });
    if (r.kvs.length === 0) throw electionNoLeader();
    return r.kvs[0];
  }

  /**
   * Each leader and each value it proclaims, in turn, until `signal` aborts: the current
   * leader first, then every change (as clientv3's Observe: the leader key is watched, so
   * no proclaimed value is skipped).
   */
  async *observe(signal?: AbortSignal): AsyncGenerator<KeyValue> {
    const c = this.session.client;
    while (!signal?.aborted) {
      const r = await c.range(this.prefix, { ...firstCreate, signal });
      let leader: KeyValue | undefined = r.kvs[0];
      if (!leader) {
        // no leader: wait for the first candidate's key
        const w = c.watch(this.prefix, {
          prefix: true,
          noDelete: true,
          startRevision: r.header!.revision + 1n,
          signal,
        });
        try {
          for await (const wr of w) {
            leader = wr.events[0]?.kv;
            if (leader) break;
          }
        } finally {
          w.cancel();
        }
        if (!leader) return;
      }
      yield leader;
      // every change of the leader's key, until it is deleted
      const w = c.watch(leader.key, { startRevision: leader.modRevision + 1n, signal });
      try {
        watching: for await (const wr of w) {
          for (const e of wr.events) {
            if (e.type === Event_EventType.DELETE) break watching;
            yield e.kv!;
          }
        }
      } finally {
        w.cancel();
      }
    }
  }
}

function toText(b: Bytes): string {
  return typeof b === "string" ? b : new TextDecoder().decode(b);
}
