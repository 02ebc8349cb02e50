/**
 * etcd's Maintenance service over a member: Status with etcd's fields, Hash and HashKV,
 * Defragment, the alarm list, and Snapshot (the page file streamed with its SHA-256 appended,
 * which `etcdctl snapshot restore` verifies).
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { Errors } from "../base/errors.ts";
import { RequestKind } from "../server/request.ts";
import { alarmText } from "../server/alarms.ts";
import { createHash } from "node:crypto";
import type { Maintenance } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { ETCD_COMPAT_VERSION } from "../base/version.ts";
import { saturateInt64 } from "../base/types.ts";
import type { Member } from "../server/member.ts";
import { authInfo, checkAdmin } from "./request_auth.ts";
import { tookField } from "../base/log.ts";

/** Snapshot chunk size, as etcd's (32 KiB). */
const SNAPSHOT_CHUNK = 32 * 1024;

/** The Maintenance service implementation for createApiHandler. */
export function maintenanceService(m: Member): Partial<ServiceImpl<typeof Maintenance>> {
  return {
    status() {
      const stats = m.backend.stats();
      return create(pb.StatusResponseSchema, {
        header: m.header(),
        version: ETCD_COMPAT_VERSION,
        dbSize: BigInt(stats.fileBytes),
        dbSizeInUse: BigInt(stats.inUseBytes),
        leader: m.leader,
        raftIndex: BigInt(m.commitIndex),
        raftTerm: BigInt(m.term),
        raftAppliedIndex: BigInt(m.appliedIndex),
        isLearner: false,
        errors: [
          ...(m.leader === 0n ? [Errors.noLeader().message] : []),
          ...m.alarms.get().map(alarmText),
        ],
      });
    },
    async hash(_req, ctx) {
      await checkAdmin(m, ctx);
      return create(pb.HashResponseSchema, { header: m.header(), hash: m.store.hash() });
    },
    async hashKV(req, ctx) {
      await checkAdmin(m, ctx);
      const rev = saturateInt64(req.revision);
      const h = m.store.hashKV(rev);
      return create(pb.HashKVResponseSchema, {
        header: m.header(h.rev),
        hash: h.hash,
        compactRevision: BigInt(h.compactRev),
        hashRevision: rev === 0 ? BigInt(h.rev) : req.revision,
      });
    },
    async defragment(_req, ctx) {
      await checkAdmin(m, ctx);
      const before = m.backend.stats();
      const started = performance.now();
      m.log.info("defragmenting", { "current-db-size-bytes": before.fileBytes });
      await m.backend.defrag();
      m.log.info("finished defragmenting directory", {
        "current-db-size-bytes-diff": m.backend.stats().fileBytes - before.fileBytes,
        "current-db-size-bytes": m.backend.stats().fileBytes,
        took: tookField(performance.now() - started),
      });
      return create(pb.DefragmentResponseSchema, { header: m.header() });
    },
    async alarm(req, ctx) {
      await authInfo(m, ctx); // etcd resolves the caller's token for every proposal
      // every action goes through raft, as in etcd (a GET is then linearizable)
      const a = await m.propose({ kind: RequestKind.Alarm, req });
      if (a.kind !== "alarms") throw new Error(`alarm applied as ${a.kind}`);
      return create(pb.AlarmResponseSchema, { header: m.header(a.revision), alarms: a.alarms });
    },
    async moveLeader(req, ctx) {
      // etcd 3.4 checks no token here at all; Concord asks for root only with auth enabled
      if (m.auth.enabled) await checkAdmin(m, ctx);
      await m.moveLeader(req.targetID);
      return create(pb.MoveLeaderResponseSchema, { header: m.header() });
    },
    async *snapshot(_req, ctx) {
      await checkAdmin(m, ctx);
      const total = m.backend.stats().fileBytes;
      const digest = createHash("sha256");
      const queue: Uint8Array[] = [];
      let wake: (() => void) | null = null;
      let drained: (() => void) | null = null;
      let finished = false;
      let failure: unknown = null;
      const header = m.header();
      const writing = m.backend.writeTo(async (chunk) => {
        if (ctx.signal.aborted) throw new Error("snapshot: client went away");
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
    },
  };
}
