/**
 * The Watch part of the server façade: opens watch streams on the member's watch hub, checks
 * that a caller may read what it watches, and turns the hub's responses into etcd's wire
 * messages with the member's header. The API's Watch service and v3election's Observe only
 * carry streams to and from here.
 */
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { Errors } from "../base/errors.ts";
import type { WatchStream, WatchStreamOptions } from "../mvcc/watch_hub.ts";
import type { WatchResponse } from "../mvcc/watch_types.ts";
import type { Member } from "./member.ts";
import type { KvServer } from "./kv_server.ts";
import type { Caller } from "./caller.ts";
import { type WatchIds, watchResponseToPb } from "./convert.ts";

/** etcd's Watch over one member. */
export class WatchServer {
  readonly #m: Member;
  readonly #kv: KvServer;

  constructor(m: Member, kv: KvServer) {
    this.#m = m;
    this.#kv = kv;
  }

  /**
   * A new watch stream on the member's hub; etcd's "etcdserver: server stopped" once the
   * member stopped (its hub is closed then, and no stream can be opened).
   */
  open(opts?: WatchStreamOptions): WatchStream {
    const hub = this.#m.hub;
    if (hub.closed) throw Errors.stopped();
    return hub.newStream(opts);
  }

  /** Throws etcd's error unless the caller may read `[key, rangeEnd)` (a watch's range). */
  checkRead(caller: Caller, key: Uint8Array, rangeEnd: Uint8Array): Promise<void> {
    return this.#kv.checkRead(caller, key, rangeEnd);
  }

  /** The member's current revision (the header of a refused watch). */
  revision(): number {
    return this.#m.store.rev();
  }

  /** The largest message a client takes (fragmented watch responses stay under it). */
  get maxRequestBytes(): number {
    return this.#m.config.maxRequestBytes;
  }

  /** The cluster id of every response header (with memberId and term: lib/api/watch_wire.ts). */
  get clusterId(): bigint {
    return this.#m.clusterId;
  }

  /** The member id of every response header. */
  get memberId(): bigint {
    return this.#m.id;
  }

  /** The raft term of the response headers sent now. */
  get term(): number {
    return this.#m.term;
  }

  /** The wire form of a hub response, its watch id mapped back to the client's. */
  toWire(r: WatchResponse, ids: WatchIds): pb.WatchResponse {
    return watchResponseToPb(r, this.#m.header(r.revision), ids);
  }
}
