/**
 * etcd's v3election service (etcdserver/api/v3election) over a member: leader election as
 * clientv3/concurrency.Election implements it. Candidates are keys `name/<lease in hex>`
 * holding their proposed value; the leader is the oldest one. Campaign waits to lead,
 * Proclaim changes the leader's value, Leader reads it, Observe streams it, Resign steps down.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import type { Election } from "../../proto/gen/v3electionpb/v3election_pb.ts";
import * as epb from "../../proto/gen/v3electionpb/v3election_pb.ts";
import { equalBytes, prefixEnd } from "../base/bytes.ts";
import { Errors } from "../base/errors.ts";
import { saturateInt64 } from "../base/types.ts";
import { EventType, type KeyValue } from "../mvcc/types.ts";
import { kvToPb } from "../server/convert.ts";
import type { EtcdServer } from "../server/etcd_server.ts";
import {
  asEtcdClientErrors,
  candidateKey,
  candidatePrefix,
  createRevisionIs,
  deleteOp,
  getOp,
  InProcessClient,
  putOp,
  rangeResult,
  SESSION_TTL,
} from "./concurrency.ts";

/** The leader's key, as Campaign answered it. */
interface Leadership {
  key: Uint8Array;
  rev: number;
  lease: bigint;
}

/** The lease of a session opened with `lease`: a fresh one when none is given (as etcd). */
function sessionLease(c: InProcessClient, lease: bigint): Promise<bigint> {
  return lease !== 0n ? Promise.resolve(lease) : c.grantLease(SESSION_TTL);
}

/** concurrency.Election.Proclaim: a new value, only while the leader key is unchanged. */
async function proclaim(c: InProcessClient, l: Leadership, value: Uint8Array): Promise<number> {
  const t = await c.txn({
    compare: [createRevisionIs(l.key, l.rev)],
    success: [putOp(l.key, value, l.lease)],
  });
  if (!t.succeeded) throw Errors.electionNotLeader();
  return t.header.revision;
}

/** concurrency.Election.Resign: delete the leader key if it is still the same one. */
async function resign(c: InProcessClient, l: Leadership): Promise<number> {
  const t = await c.txn({ compare: [createRevisionIs(l.key, l.rev)], success: [deleteOp(l.key)] });
  return t.header.revision;
}

/** The Election service implementation for createApiHandler. */
export function electionService(s: EtcdServer): Partial<ServiceImpl<typeof Election>> {
  return {
    campaign(req, ctx) {
      return asEtcdClientErrors(async () => {
        const c = new InProcessClient(s, ctx);
        const lease = await sessionLease(c, req.lease);
        const prefix = candidatePrefix(req.name);
        const key = candidateKey(prefix, lease);
        const t = await c.txn({
          compare: [createRevisionIs(key, 0)],
          success: [putOp(key, req.value, lease)],
          failure: [getOp(key)],
        });
        const l: Leadership = { key, rev: t.header.revision, lease };
        if (!t.succeeded) {
          // this lease already campaigns: keep its place, with the new value
          const kv = rangeResult(t, 0).kvs[0];
          l.rev = kv.createRevision;
          if (!equalBytes(kv.value, req.value)) {
            try {
              await proclaim(c, l, req.value);
            } catch (err) {
              await resign(c, l).catch(() => {});
              throw err;
            }
          }
        }
        try {
          await c.waitDeletes(prefix, l.rev - 1);
        } catch (err) {
          // etcd resigns only when the client gave up; other failures keep the candidacy
          if (ctx.signal.aborted) await resign(c, l).catch(() => {});
          throw err;
        }
        // etcd answers with the header of the campaign's first txn
        return create(epb.CampaignResponseSchema, {
          header: s.header(t.header.revision),
          leader: { name: req.name, key, rev: BigInt(l.rev), lease },
        });
      });
    },
    proclaim(req, ctx) {
      return asEtcdClientErrors(async () => {
        const leader = req.leader;
        if (leader === undefined) throw Errors.electionMissingLeaderKey();
        const c = new InProcessClient(s, ctx);
        const lease = await sessionLease(c, leader.lease);
        const rev = await proclaim(c, leadership(leader, lease), req.value);
        return create(epb.ProclaimResponseSchema, { header: s.header(rev) });
      });
    },
    leader(req, ctx) {
      return asEtcdClientErrors(async () => {
        const c = new InProcessClient(s, ctx);
        const r = await c.firstCreated(candidatePrefix(req.name));
        if (r.kvs.length === 0) throw Errors.electionNoLeader();
        return create(epb.LeaderResponseSchema, {
          header: s.header(r.header.revision),
          kv: kvToPb(r.kvs[0]),
        });
      });
    },
    observe(req, ctx) {
      return observeLeader(s, new InProcessClient(s, ctx), candidatePrefix(req.name));
    },
    resign(req, ctx) {
      return asEtcdClientErrors(async () => {
        const leader = req.leader;
        if (leader === undefined) throw Errors.electionMissingLeaderKey();
        const c = new InProcessClient(s, ctx);
        // etcd opens a session here too (granting a lease when none is given)
        const lease = await sessionLease(c, leader.lease);
        const rev = await resign(c, leadership(leader, lease));
        return create(epb.ResignResponseSchema, { header: s.header(rev) });
      });
    },
  };
}

function leadership(l: epb.LeaderKey, lease: bigint): Leadership {
  return { key: l.key, rev: saturateInt64(l.rev), lease };
}

/**
 * concurrency.Election.Observe: the current leader, then each new value it proclaims; when it
 * goes, the next leader (waiting for one if there is none). Like etcd's, the stream ends
 * quietly when a read or watch fails, and otherwise runs until the client leaves.
 */
async function* observeLeader(
  s: EtcdServer,
  c: InProcessClient,
  prefix: Uint8Array,
): AsyncGenerator<epb.LeaderResponse> {
  const answer = (revision: number, kv: KeyValue) =>
    create(epb.LeaderResponseSchema, { header: s.header(revision), kv: kvToPb(kv) });
  try {
    for (;;) {
      const first = await c.firstCreated(prefix);
      let kv: KeyValue | undefined = first.kvs[0];
      let revision = first.header.revision;
      if (kv === undefined) {
        // no leader yet: the first put under the prefix is the next one
        for await (const w of c.watch(prefix, prefixEnd(prefix), revision)) {
          kv = w.events.find((e) => e.type === EventType.PUT)?.kv;
          if (kv !== undefined) break;
        }
        if (kv === undefined) return;
        revision = kv.modRevision;
      }
      yield answer(revision, kv);
      let deleted = false;
      for await (const w of c.watch(kv.key, undefined, revision + 1)) {
        for (const e of w.events) {
          if (e.type === EventType.DELETE) {
            deleted = true;
            break;
          }
          yield answer(w.revision, e.kv);
        }
        if (deleted) break;
      }
      if (!deleted) return;
    }
  } catch {
    // etcd's observe goroutine closes its channel on any error and the RPC returns nil
  }
}
