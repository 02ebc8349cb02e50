/**
 * The lease namespace: grant, revoke, time-to-live, list, one keep-alive, and a keep-alive
 * that renews a lease every third of its TTL until cancelled (clientv3's KeepAlive), riding
 * out member failures as long as the lease has not expired meanwhile.
 */
import {
  Lease,
  type LeaseGrantResponse,
  type LeaseKeepAliveResponse,
  type LeaseLeasesResponse,
  type LeaseRevokeResponse,
  type LeaseTimeToLiveResponse,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { Errors, type EtcdError } from "../base/errors.ts";
import type { CallOptions, Connection } from "./connection.ts";
import { toEtcdError } from "./errors.ts";
import { sleep } from "./sleep.ts";

/** A lease id as etcd's API carries it. */
export type LeaseId = bigint;

/** etcd's Lease service, typed, plus the keep-alive loop. */
export class LeaseClient {
  readonly #conn: Connection;

  /** Made by the Client. */
  constructor(conn: Connection) {
    this.#conn = conn;
  }

  /** Grants a lease of `ttl` seconds (`id` 0: the server picks one). */
  grant(
    ttl: number,
    opts?: { id?: number | bigint } & CallOptions,
  ): Promise<LeaseGrantResponse> {
    const req = { TTL: BigInt(ttl), ID: BigInt(opts?.id ?? 0) };
    return this.#conn.call(
      "write",
      opts,
      (ep, a) => this.#conn.client(ep, Lease).leaseGrant(req, a),
    );
  }

  /** Revokes a lease, deleting every key attached to it. */
  revoke(id: number | bigint, opts?: CallOptions): Promise<LeaseRevokeResponse> {
    const req = { ID: BigInt(id) };
    return this.#conn.call(
      "write",
      opts,
      (ep, a) => this.#conn.client(ep, Lease).leaseRevoke(req, a),
    );
  }

  /** The lease's remaining and granted TTL (-1 when it does not exist), optionally its keys. */
  timeToLive(
    id: number | bigint,
    opts?: { keys?: boolean } & CallOptions,
  ): Promise<LeaseTimeToLiveResponse> {
    const req = { ID: BigInt(id), keys: opts?.keys ?? false };
    return this.#conn.call(
      "read",
      opts,
      (ep, a) => this.#conn.client(ep, Lease).leaseTimeToLive(req, a),
    );
  }

  /** Every lease's id. */
  leases(opts?: CallOptions): Promise<LeaseLeasesResponse> {
    return this.#conn.call(
      "read",
      opts,
      (ep, a) => this.#conn.client(ep, Lease).leaseLeases({}, a),
    );
  }

  /**
   * Renews a lease once: its TTL restarts. Fails with etcd's "requested lease not found"
   * when the lease has expired or was revoked. Renewing twice is harmless, so it is retried.
   */
  keepAliveOnce(id: number | bigint, opts?: CallOptions): Promise<LeaseKeepAliveResponse> {
    const ID = BigInt(id);
    return this.#conn.call("read", opts, async (ep, a) => {
      // one request, then half-close: the server answers once and ends the stream
      const input = (async function* () {
        yield { ID };
      })();
      for await (const r of this.#conn.client(ep, Lease).leaseKeepAlive(input, a)) {
        if (r.TTL <= 0n) throw Errors.leaseNotFound();
        return r;
      }
      throw Errors.stopped();
    });
  }

  /**
   * Keeps a lease alive until `cancel()`: renews every TTL/3, retrying failed renewals on
   * other members while the lease can still be alive. `done` resolves on cancel and rejects
   * (etcd's "requested lease not found") once the lease is gone.
   *
   * @example
   * ```ts
   * import { Client } from "./mod.ts";
   * const client = new Client({ endpoints: Deno.env.get("ETCDCTL_ENDPOINTS")?.split(",") ?? "127.0.0.1:2379" });
   * // a key that lasts as long as this program keeps its lease alive
   * const { ID } = await client.lease.grant(10);
   * const ka = client.lease.keepAlive(ID);
   * await client.kv.put("service/me", "up", { lease: ID });
   * // … on shutdown: stop renewing and drop the key at once
   * ka.cancel();
   * await client.lease.revoke(ID);
   * await client.close();
   * ```
   */
  keepAlive(
    id: number | bigint,
    opts?: { onRenew?: (r: LeaseKeepAliveResponse) => void },
  ): KeepAlive {
    return new KeepAlive(this, BigInt(id), this.#conn.closing, opts?.onRenew);
  }
}

/** A running keep-alive (see `LeaseClient.keepAlive`). */
export class KeepAlive {
  /** The lease kept alive. */
  readonly id: LeaseId;
  /** Resolves when cancelled; rejects when the lease expired or was revoked. */
  readonly done: Promise<void>;
  /** The TTL the last renewal granted (seconds; 0 before the first). */
  ttl = 0;
  readonly #ctrl = new AbortController();

  /** Made by `LeaseClient.keepAlive`; starts renewing at once. */
  constructor(
    lease: LeaseClient,
    id: LeaseId,
    closing: AbortSignal,
    onRenew?: (r: LeaseKeepAliveResponse) => void,
  ) {
    this.id = id;
    const signal = AbortSignal.any([this.#ctrl.signal, closing]);
    this.done = this.#run(lease, signal, onRenew);
    // a caller that only cancels never sees a rejection it did not ask for
    this.done.catch(() => {});
  }

  /** Stops renewing (the lease then expires after its TTL unless revoked). */
  cancel(): void {
    this.#ctrl.abort();
  }

  async #run(
    lease: LeaseClient,
    signal: AbortSignal,
    onRenew?: (r: LeaseKeepAliveResponse) => void,
  ): Promise<void> {
    // the lease is surely alive until this time (ms); unknown before the first renewal
    let aliveUntil = Infinity;
    let last: EtcdError | undefined;
    // whether the last attempt failed: the next one has less time left, and goes at once
    let retrying = false;
    while (!signal.aborted) {
      const sent = Date.now();
      let wait: number;
      try {
        // A renewal stuck on a member that stopped answering (SIGSTOP) must give up early
        // enough for another member to renew before the lease runs out: the first attempt
        // takes a third of the time left, a retry half of what is left then, so two more
        // attempts fit after a frozen member's deadline (one attempt of 500 ms after a 500 ms
        // pause fitted before, and a member slowed by load missed it: the lease expired).
        const left = aliveUntil - sent;
        const share = Math.floor(retrying ? left / 2 : left / 3);
        const r = await lease.keepAliveOnce(this.id, {
          signal,
          timeoutMs: Math.max(500, Math.min(share, 5000)),
        });
        this.ttl = Number(r.TTL);
        aliveUntil = sent + this.ttl * 1000;
        onRenew?.(r);
        retrying = false;
        wait = Math.max(500, (this.ttl * 1000) / 3);
      } catch (raw) {
        if (signal.aborted) return;
        last = toEtcdError(raw);
        if (Errors.leaseNotFound.is(last)) throw last;
        if (Date.now() >= aliveUntil) {
          const e = Errors.leaseNotFound();
          e.cause = last;
          throw e;
        }
        // the member that failed is passed over for a while (Connection.markDown), so the
        // retry goes to another one at once; a failure that came back at once (no member
        // reachable, no leader) waits a little rather than spin
        const took = Date.now() - sent;
        wait = retrying && took < 100 ? 100 : 0;
        retrying = true;
      }
      await sleep(wait, signal);
    }
  }
}
