/**
 * The lock namespace: etcd's v3lock service, a mutex the server runs for the caller. The
 * lock key is derived from the lease, so a lock call retried on another member finds its
 * own key again instead of queueing twice: it is retried like a read.
 */
import {
  Lock,
  type LockResponse,
  type UnlockResponse,
} from "../../proto/gen/v3lockpb/v3lock_pb.ts";
import { type Bytes, toBytes } from "./bytes.ts";
import type { CallOptions, Connection } from "./connection.ts";

/** Server-side locks held by a lease. */
export class LockClient {
  readonly #conn: Connection;

  /** Made by the Client. */
  constructor(conn: Connection) {
    this.#conn = conn;
  }

  /**
   * Waits until the lock `name` is held for `lease` and returns its key (pass it to
   * `unlock`). The lock is released when the lease ends.
   */
  lock(name: Bytes, lease: number | bigint, opts?: CallOptions): Promise<LockResponse> {
    const req = { name: toBytes(name), lease: BigInt(lease) };
    return this.#conn.call("read", opts, (ep, a) => this.#conn.client(ep, Lock).lock(req, a));
  }

  /** Releases a lock by the key `lock` returned. */
  unlock(key: Uint8Array, opts?: CallOptions): Promise<UnlockResponse> {
    return this.#conn.call("read", opts, (ep, a) => this.#conn.client(ep, Lock).unlock({ key }, a));
  }
}
