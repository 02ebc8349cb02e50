/** The cluster namespace: etcd's Cluster service (membership), typed. */
import {
  Cluster,
  type MemberAddResponse,
  type MemberListResponse,
  type MemberPromoteResponse,
  type MemberRemoveResponse,
  type MemberUpdateResponse,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { CallOptions, Connection } from "./connection.ts";

/** Lists and changes the cluster's members. */
export class ClusterClient {
  readonly #conn: Connection;

  /** Made by the Client. */
  constructor(conn: Connection) {
    this.#conn = conn;
  }

  /**
   * Every member with its id, name, peer and client URLs. `linearizable` (etcd 3.5's
   * option) is refused by etcd 3.4, which always answers from the member's own state.
   */
  list(opts?: { linearizable?: boolean } & CallOptions): Promise<MemberListResponse> {
    const req = { linearizable: opts?.linearizable ?? false };
    return this.#conn.call(
      "read",
      opts,
      (ep, a) => this.#conn.client(ep, Cluster).memberList(req, a),
    );
  }

  /** Adds a member (a learner with `isLearner`) that will join at `peerURLs`. */
  add(
    peerURLs: string[],
    opts?: { isLearner?: boolean } & CallOptions,
  ): Promise<MemberAddResponse> {
    const req = { peerURLs, isLearner: opts?.isLearner ?? false };
    return this.#conn.call(
      "write",
      opts,
      (ep, a) => this.#conn.client(ep, Cluster).memberAdd(req, a),
    );
  }

  /** Removes a member. */
  remove(id: number | bigint, opts?: CallOptions): Promise<MemberRemoveResponse> {
    const req = { ID: BigInt(id) };
    return this.#conn.call(
      "write",
      opts,
      (ep, a) => this.#conn.client(ep, Cluster).memberRemove(req, a),
    );
  }

  /** Changes a member's peer URLs (setting the same URLs again is harmless: retried). */
  update(
    id: number | bigint,
    peerURLs: string[],
    opts?: CallOptions,
  ): Promise<MemberUpdateResponse> {
    const req = { ID: BigInt(id), peerURLs };
    return this.#conn.call(
      "read",
      opts,
      (ep, a) => this.#conn.client(ep, Cluster).memberUpdate(req, a),
    );
  }

  /** Promotes a learner that has caught up to a voting member. */
  promote(id: number | bigint, opts?: CallOptions): Promise<MemberPromoteResponse> {
    const req = { ID: BigInt(id) };
    return this.#conn.call(
      "write",
      opts,
      (ep, a) => this.#conn.client(ep, Cluster).memberPromote(req, a),
    );
  }
}
