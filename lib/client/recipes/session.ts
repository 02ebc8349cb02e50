/**
 * A session: a lease kept alive for as long as the program wants its locks, leadership or
 * ephemeral keys to last (clientv3/concurrency's Session). Closing it revokes the lease,
 * releasing everything attached at once; if the program dies, the lease expires after its
 * TTL and the same happens.
 */
import { Errors } from "../../base/errors.ts";
import type { Client } from "../client.ts";
import type { KeepAlive, LeaseId } from "../lease.ts";

/** Session options. */
export interface SessionOptions {
  /** The lease's TTL in seconds (default 60, clientv3's). */
  ttl?: number;
  /** Use this existing lease instead of granting one. */
  lease?: LeaseId;
}

/** A lease kept alive until `close()`. */
export class Session {
  /** The client the lease lives on. */
  readonly client: Client;
  /** The session's lease: attach keys to it to make them last as long as the session. */
  readonly lease: LeaseId;
  readonly #keepAlive: KeepAlive;

  private constructor(client: Client, lease: LeaseId) {
    this.client = client;
    this.lease = lease;
    this.#keepAlive = client.lease.keepAlive(lease);
  }

  /**
   * Grants the lease (or adopts `opts.lease`) and starts keeping it alive.
   *
   * @example
   * ```ts
   * import { Client, Mutex, Session } from "../mod.ts";
   * const client = new Client({ endpoints: Deno.env.get("ETCDCTL_ENDPOINTS")?.split(",") ?? "127.0.0.1:2379" });
   * const session = await Session.create(client, { ttl: 10 });
   * const mutex = new Mutex(session, "locks/job");
   * await mutex.lock();
   * // … the critical section …
   * await mutex.unlock();
   * await session.close();
   * await client.close();
   * ```
   */
  static async create(client: Client, opts: SessionOptions = {}): Promise<Session> {
    const lease = opts.lease ?? (await client.lease.grant(opts.ttl ?? 60)).ID;
    return new Session(client, lease);
  }

  /** Resolves when the session is closed; rejects when the lease was lost (expired, revoked). */
  get done(): Promise<void> {
    return this.#keepAlive.done;
  }

  /** Stops keeping the lease alive without revoking it (it expires after its TTL). */
  orphan(): void {
    this.#keepAlive.cancel();
  }

  /** Revokes the lease: every key attached to it (locks, leadership) goes at once. */
  async close(): Promise<void> {
    this.#keepAlive.cancel();
    await this.client.lease.revoke(this.lease).catch((e) => {
      // a lease already gone is what close wants
      if (!Errors.leaseNotFound.is(e)) throw e;
    });
  }
}
