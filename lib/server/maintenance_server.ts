/**
 * The Maintenance part of the server façade: Status with etcd's fields, Hash and HashKV,
 * Defragment, alarms, MoveLeader, and Snapshot (the page file streamed with its SHA-256
 * appended, which `etcdctl snapshot restore` verifies).
 */
import { create } from "@bufbuild/protobuf";
import { createHash } from "node:crypto";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { Errors } from "../base/errors.ts";
import { ClosedError } from "../backend/errors.ts";
import { saturateInt64 } from "../base/types.ts";
import { tookField } from "../base/log.ts";
import { RequestKind } from "./request.ts";
import type { Member } from "./member.ts";
import { statusOf } from "./member_status.ts";
import { type Caller, checkAdmin, resolveCaller } from "./caller.ts";
import {
  DEFAULT_MEMBER_STATUS_TIMEOUT_MS,
  membersStatus,
  type MemberStatus,
} from "./members_status.ts";

/** Snapshot chunk size, as etcd's (32 KiB). */
const SNAPSHOT_CHUNK = 32 * 1024;

/**
 * Resolves once no snapshot install has the member's store and backend closed: the reads of
 * Status, Hash, HashKV and Snapshot wait there as etcd's do on the backend's lock (Range's
 * wait, kv_server.ts), bounded by the request timeout.
 */
function storeReady(m: Member): Promise<void> {
  return m.applyingSnapshot ? m.storeReady() : Promise.resolve();
}

/** etcd's Maintenance calls over one member. */
export class MaintenanceServer {
  readonly #m: Member;

  constructor(m: Member) {
    this.#m = m;
  }

  /**
   * Status: versions, sizes, raft positions and the errors etcd lists (no leader, alarms).
   * During a snapshot install it waits for the new backend (the old one is closed: etcd's
   * Status reads the backend that applySnapshot swaps in).
   */
  async status(): Promise<pb.StatusResponse> {
    await storeReady(this.#m);
    return statusOf(this.#m);
  }

  /**
   * Every member's own Status, asked over the peer transport with `timeoutMs` for each (what
   * `etcdctl endpoint status --cluster` shows; the console's Cluster page). With auth
   * enabled the caller must be an authenticated user, as etcd (since 3.6) asks of Status:
   * one member's figures are what Status gives anyone, the whole cluster's are not.
   */
  async membersStatus(
    caller: Caller,
    timeoutMs = DEFAULT_MEMBER_STATUS_TIMEOUT_MS,
  ): Promise<MemberStatus[]> {
    const m = this.#m;
    const info = await resolveCaller(m, caller);
    if (m.auth.enabled && info === undefined) throw Errors.userEmpty();
    return await membersStatus({
      id: m.id,
      clock: m.clock,
      membership: m.membership,
      transport: m.transport,
      status: () => this.status(),
    }, timeoutMs);
  }

  /** Hash of the whole backend (root only). */
  async hash(caller: Caller): Promise<pb.HashResponse> {
    const m = this.#m;
    await checkAdmin(m, caller);
    await storeReady(m);
    return create(pb.HashResponseSchema, { header: m.header(), hash: m.store.hash() });
  }

  /** HashKV up to a revision (0: the current one), root only. */
  async hashKV(req: pb.HashKVRequest, caller: Caller): Promise<pb.HashKVResponse> {
    const m = this.#m;
    await checkAdmin(m, caller);
    const rev = saturateInt64(req.revision);
    await storeReady(m);
    const h = m.store.hashKV(rev);
    return create(pb.HashKVResponseSchema, {
      header: m.header(h.rev),
      hash: h.hash,
      compactRevision: BigInt(h.compactRev),
      hashRevision: rev === 0 ? BigInt(h.rev) : req.revision,
    });
  }

  /**
   * Defragment this member's page file (root only). A snapshot install that replaces the
   * backend under the copy (it closes the old one) does not fail the call: it defragments the
   * new backend once the install is done, as etcd's answers OK there (its old backend waits
   * for the defrag before it closes).
   */
  async defragment(caller: Caller): Promise<pb.DefragmentResponse> {
    const m = this.#m;
    await checkAdmin(m, caller);
    await storeReady(m);
    const before = m.backend.stats();
    const started = m.clock.now();
    m.log.info("defragmenting", { "current-db-size-bytes": before.fileBytes });
    for (let backend = m.backend;;) {
      try {
        await backend.defrag();
        break;
      } catch (err) {
        if (!(err instanceof ClosedError)) throw err;
        await m.storeReady(); // fails when the member stops or fails meanwhile
        if (m.backend === backend) throw err; // closed, not replaced
        backend = m.backend;
        m.log.info("defragmenting the backend a snapshot install opened", {
          "current-db-size-bytes": backend.stats().fileBytes,
        });
      }
    }
    // (an install may have closed the backend just defragmented: its sizes are the new one's)
    await storeReady(m);
    const after = m.backend.stats().fileBytes;
    m.log.info("finished defragmenting directory", {
      "current-db-size-bytes-diff": after - before.fileBytes,
      "current-db-size-bytes": after,
      took: tookField(m.clock.now() - started),
    });
    return create(pb.DefragmentResponseSchema, { header: m.header() });
  }

  /** Alarm: every action goes through raft, as in etcd (a GET is then linearizable). */
  async alarm(req: pb.AlarmRequest, caller: Caller): Promise<pb.AlarmResponse> {
    const m = this.#m;
    await resolveCaller(m, caller); // etcd resolves the caller's token for every proposal
    const a = await m.propose({ kind: RequestKind.Alarm, req });
    return create(pb.AlarmResponseSchema, { header: m.header(a.revision), alarms: a.alarms });
  }

  /** MoveLeader: etcd 3.4 checks no token here; Concord asks for root with auth enabled. */
  async moveLeader(req: pb.MoveLeaderRequest, caller: Caller): Promise<pb.MoveLeaderResponse> {
    const m = this.#m;
    if (m.auth.enabled) await checkAdmin(m, caller);
    await m.moveLeader(req.targetID);
    return create(pb.MoveLeaderResponseSchema, { header: m.header() });
  }

  /**
   * Snapshot (root only): the page file in 32 KiB chunks as a consistent copy, then the
   * SHA-256 of everything sent; reading stops when `signal` aborts (the client went away).
   */
  async *snapshot(caller: Caller, signal: AbortSignal): AsyncGenerator<pb.SnapshotResponse> {
    const m = this.#m;
    await checkAdmin(m, caller);
    // a copy of the page file the install opens, not of the one it closed; an install that
    // begins while the copy is written fails the stream (the old backend closes under it)
    await storeReady(m);
    const total = m.backend.stats().fileBytes;
    const digest = createHash("sha256");
    const queue: Uint8Array[] = [];
    let wake: (() => void) | null = null;
    let drained: (() => void) | null = null;
    let finished = false;
    let failure: unknown = null;
    const header = m.header();
    const writing = m.backend.writeTo(async (chunk) => {
      if (signal.aborted) throw new Error("snapshot: client went away");
      for (let off = 0; off < chunk.length; off += SNAPSHOT_CHUNK) {
        queue.push(chunk.slice(off, off + SNAPSHOT_CHUNK));
      }
      wake?.();
      // backpressure: wait until the consumer took what we queued
      if (queue.length > 0) await new Promise<void>((r) => (drained = r));
    }).then(
      () => {
        finished = true;
        wake?.();
      },
      (err) => {
        failure = err;
        finished = true;
        wake?.();
      },
    );
    let sent = 0;
    try {
      for (;;) {
        const chunk = queue.shift();
        if (chunk === undefined) {
          const d = drained as (() => void) | null;
          drained = null;
          d?.();
          if (finished) break;
          await new Promise<void>((r) => (wake = r));
          wake = null;
          continue;
        }
        digest.update(chunk);
        sent += chunk.length;
        yield create(pb.SnapshotResponseSchema, {
          header,
          remainingBytes: BigInt(Math.max(0, total - sent)),
          blob: chunk,
        });
      }
      if (failure !== null) throw failure;
      yield create(pb.SnapshotResponseSchema, {
        header,
        remainingBytes: 0n,
        blob: new Uint8Array(digest.digest()),
      });
    } finally {
      const d = drained as (() => void) | null;
      d?.();
      await writing;
    }
  }
}
