/**
 * The maintenance namespace: etcd's Maintenance service, typed. The calls that concern one
 * member (status, hash, hashKV, defragment, snapshot) take `endpoint` to ask a given one.
 */
import {
  AlarmRequest_AlarmAction,
  type AlarmResponse,
  AlarmType,
  type DefragmentResponse,
  type HashKVResponse,
  type HashResponse,
  Maintenance,
  type MoveLeaderResponse,
  type StatusResponse,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { CallOptions, Connection, MemberCallOptions } from "./connection.ts";
import { toEtcdError } from "./errors.ts";

/** Progress of a snapshot download. */
export interface SnapshotProgress {
  /** Bytes received so far. */
  received: number;
  /** Bytes the server says remain. */
  remaining: bigint;
}

/** Member status, alarms, hashes, defragmentation, snapshots and leader moves. */
export class MaintenanceClient {
  readonly #conn: Connection;

  /** Made by the Client. */
  constructor(conn: Connection) {
    this.#conn = conn;
  }

  /** A member's version, database size, leader, raft index and term. */
  status(opts?: MemberCallOptions): Promise<StatusResponse> {
    return this.#conn.call(
      "read",
      opts,
      (ep, a) => this.#conn.client(ep, Maintenance).status({}, a),
    );
  }

  /** The active alarms (every member's). */
  alarms(opts?: CallOptions): Promise<AlarmResponse> {
    const req = { action: AlarmRequest_AlarmAction.GET, memberID: 0n, alarm: AlarmType.NONE };
    return this.#conn.call(
      "read",
      opts,
      (ep, a) => this.#conn.client(ep, Maintenance).alarm(req, a),
    );
  }

  /** Clears an alarm (an entry of `alarms()`); disarming twice is harmless: retried. */
  disarm(
    alarm: { memberID: bigint; alarm: AlarmType },
    opts?: CallOptions,
  ): Promise<AlarmResponse> {
    const req = {
      action: AlarmRequest_AlarmAction.DEACTIVATE,
      memberID: alarm.memberID,
      alarm: alarm.alarm,
    };
    return this.#conn.call(
      "read",
      opts,
      (ep, a) => this.#conn.client(ep, Maintenance).alarm(req, a),
    );
  }

  /** Defragments a member's database file (pick it with `endpoint`). */
  defragment(opts?: MemberCallOptions): Promise<DefragmentResponse> {
    return this.#conn.call(
      "read",
      opts,
      (ep, a) => this.#conn.client(ep, Maintenance).defragment({}, a),
    );
  }

  /** The hash of a member's whole database file. */
  hash(opts?: MemberCallOptions): Promise<HashResponse> {
    return this.#conn.call("read", opts, (ep, a) => this.#conn.client(ep, Maintenance).hash({}, a));
  }

  /** The hash of the keys' history up to `revision` (0: all), comparable across members. */
  hashKV(revision: number | bigint, opts?: MemberCallOptions): Promise<HashKVResponse> {
    const req = { revision: BigInt(revision) };
    return this.#conn.call(
      "read",
      opts,
      (ep, a) => this.#conn.client(ep, Maintenance).hashKV(req, a),
    );
  }

  /** Makes `targetId` the leader (ask the current leader: pick it with `endpoint`). */
  moveLeader(targetId: number | bigint, opts?: MemberCallOptions): Promise<MoveLeaderResponse> {
    const req = { targetID: BigInt(targetId) };
    return this.#conn.call(
      "write",
      opts,
      (ep, a) => this.#conn.client(ep, Maintenance).moveLeader(req, a),
    );
  }

  /**
   * A member's database as a stream of chunks (etcd's snapshot: the page file followed by
   * its SHA-256). Not retried: a broken download fails, to be started again.
   *
   * @example
   * ```ts
   * import { Client } from "./mod.ts";
   * const client = new Client({ endpoints: Deno.env.get("ETCDCTL_ENDPOINTS")?.split(",") ?? "127.0.0.1:2379" });
   * const path = await Deno.makeTempFile({ suffix: ".db" });
   * const file = await Deno.open(path, { write: true });
   * for await (const chunk of client.maintenance.snapshot()) await file.write(chunk);
   * file.close();
   * await Deno.remove(path);
   * await client.close();
   * ```
   */
  async *snapshot(
    opts?: MemberCallOptions & { onProgress?: (p: SnapshotProgress) => void },
  ): AsyncGenerator<Uint8Array> {
    const ep = opts?.endpoint === undefined ? this.#conn.pick() : this.#conn.at(opts.endpoint);
    const scope = this.#conn.scope(opts);
    try {
      const headers = await scope.guard(this.#conn.headers());
      let received = 0;
      const stream = this.#conn.client(ep, Maintenance).snapshot({}, {
        signal: scope.signal,
        headers,
        timeoutMs: scope.remaining(),
      });
      for await (const r of stream) {
        received += r.blob.length;
        opts?.onProgress?.({ received, remaining: r.remainingBytes });
        yield r.blob;
      }
    } catch (raw) {
      scope.check(raw);
      throw toEtcdError(raw);
    } finally {
      scope.dispose();
    }
  }
}
