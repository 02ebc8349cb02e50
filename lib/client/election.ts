/**
 * The election namespace: etcd's v3election service, leader election the server runs for
 * the caller. Campaign keys are derived from the lease, so calls are retried like reads.
 */
import {
  type CampaignResponse,
  Election,
  type LeaderKey,
  type LeaderResponse,
  type ProclaimResponse,
  type ResignResponse,
} from "../../proto/gen/v3electionpb/v3election_pb.ts";
import { type Bytes, toBytes } from "./bytes.ts";
import type { CallOptions, Connection } from "./connection.ts";
import { toEtcdError } from "./errors.ts";

/** Server-side elections among leases. */
export class ElectionClient {
  readonly #conn: Connection;

  /** Made by the Client. */
  constructor(conn: Connection) {
    this.#conn = conn;
  }

  /** Waits until `lease` leads the election `name`, announcing `value`; returns the leader key. */
  campaign(
    name: Bytes,
    lease: number | bigint,
    value: Bytes,
    opts?: CallOptions,
  ): Promise<CampaignResponse> {
    const req = { name: toBytes(name), lease: BigInt(lease), value: toBytes(value) };
    return this.#conn.call(
      "read",
      opts,
      (ep, a) => this.#conn.client(ep, Election).campaign(req, a),
    );
  }

  /** Announces a new value while leading. */
  proclaim(leader: LeaderKey, value: Bytes, opts?: CallOptions): Promise<ProclaimResponse> {
    const req = { leader, value: toBytes(value) };
    return this.#conn.call(
      "read",
      opts,
      (ep, a) => this.#conn.client(ep, Election).proclaim(req, a),
    );
  }

  /** The current leader's key-value; fails with etcd's "election: no leader" when none. */
  leader(name: Bytes, opts?: CallOptions): Promise<LeaderResponse> {
    const req = { name: toBytes(name) };
    return this.#conn.call("read", opts, (ep, a) => this.#conn.client(ep, Election).leader(req, a));
  }

  /** Gives up leadership. */
  resign(leader: LeaderKey, opts?: CallOptions): Promise<ResignResponse> {
    return this.#conn.call(
      "read",
      opts,
      (ep, a) => this.#conn.client(ep, Election).resign({ leader }, a),
    );
  }

  /** Each leader in turn, as the election changes hands, until `signal` aborts. */
  async *observe(name: Bytes, opts?: CallOptions): AsyncGenerator<LeaderResponse> {
    const scope = this.#conn.scope(opts);
    try {
      const ep = this.#conn.pick();
      const headers = await scope.guard(this.#conn.headers());
      const stream = this.#conn.client(ep, Election).observe({ name: toBytes(name) }, {
        signal: scope.signal,
        headers,
        timeoutMs: scope.remaining(),
      });
      for await (const r of stream) yield r;
    } catch (raw) {
      scope.check(raw);
      throw toEtcdError(raw);
    } finally {
      scope.dispose();
    }
  }
}
