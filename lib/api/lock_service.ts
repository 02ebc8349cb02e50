/**
 * etcd's v3lock service (etcdserver/api/v3lock) over a member: a distributed mutex whose
 * holder is the oldest key under `name/`, as clientv3/concurrency.Mutex implements it. Lock
 * puts `name/<lease in hex>` bound to the caller's lease and waits until every older
 * candidate key is gone; Unlock deletes the key it returned. Keys, waits and errors are
 * etcd's, so etcd's clients and `etcdctl lock` see the same thing.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import type { Lock } from "../../proto/gen/v3lockpb/v3lock_pb.ts";
import * as lockpb from "../../proto/gen/v3lockpb/v3lock_pb.ts";
import type { EtcdServer } from "../server/etcd_server.ts";
import {
  asEtcdClientErrors,
  candidateKey,
  candidatePrefix,
  createRevisionIs,
  firstCreatedOp,
  getOp,
  InProcessClient,
  putOp,
  rangeResult,
  SESSION_TTL,
} from "./concurrency.ts";

/** The Lock service implementation for createApiHandler. */
export function lockService(s: EtcdServer): Partial<ServiceImpl<typeof Lock>> {
  return {
    lock(req, ctx) {
      return asEtcdClientErrors(async () => {
        const c = new InProcessClient(s, ctx);
        // etcd's server opens a concurrency.Session with the request's lease, which grants
        // a fresh 60 s lease when none is given (and never keeps either alive)
        const lease = req.lease !== 0n ? req.lease : await c.grantLease(SESSION_TTL);
        const prefix = candidatePrefix(req.name);
        const key = candidateKey(prefix, lease);
        // concurrency.Mutex.Lock: join the waiters unless this lease already did, and read
        // the current owner in the same txn
        const t = await c.txn({
          compare: [createRevisionIs(key, 0)],
          success: [putOp(key, new Uint8Array(0), lease), firstCreatedOp(prefix)],
          failure: [getOp(key), firstCreatedOp(prefix)],
        });
        const myRev = t.succeeded ? t.header.revision : rangeResult(t, 0).kvs[0].createRevision;
        const owner = rangeResult(t, 1).kvs;
        if (owner.length === 0 || owner[0].createRevision === myRev) {
          return create(lockpb.LockResponseSchema, { header: s.header(t.header.revision), key });
        }
        let revision: number;
        try {
          // a key of ours that expires meanwhile does not end the wait, as with etcd: the
          // answer comes once every older candidate is gone
          revision = await c.waitDeletes(prefix, myRev - 1);
        } catch (err) {
          // the mutex's cleanup: leave no waiter key behind (etcd does this without the
          // caller's token, which fails once auth is on; we use the caller's)
          await c.deleteKey(key).catch(() => {});
          throw err;
        }
        return create(lockpb.LockResponseSchema, { header: s.header(revision), key });
      });
    },
    unlock(req, ctx) {
      return asEtcdClientErrors(async () => {
        const c = new InProcessClient(s, ctx);
        const revision = await c.deleteKey(req.key);
        return create(lockpb.UnlockResponseSchema, { header: s.header(revision) });
      });
    },
  };
}
