/**
 * The applier: turns one committed raft entry into a change of the applied state, in log
 * order, on every member alike (etcd's applierV3 with its auth and capped wrappers). It
 * decodes the request, checks auth again with the proposer's user and auth revision, refuses
 * growth while NOSPACE is raised, dispatches to MVCC, the lessor, auth, alarms or membership,
 * and records the consistent index in the same synchronous step, so a replay after a crash
 * skips exactly what the backend already holds.
 */
import { Errors, EtcdError, GrpcCode } from "../base/errors.ts";
import type { Entry } from "../base/raftpb.ts";
import { toCounter } from "../base/types.ts";
import { applyCompaction, applyDeleteRange, applyPut, applyTxn } from "../mvcc/applier.ts";
import type * as m from "../mvcc/types.ts";
import type { AuthInfo } from "../auth/store.ts";
import {
  type AlarmMember,
  type AlarmRequest,
  AlarmRequest_AlarmAction,
  AlarmType,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { checkDeleteAuth, checkPutAuth, checkRevokeAuth, checkTxnAuth } from "./auth_check.ts";
import type { TokenProvider } from "./token.ts";
import { costTxn } from "./quota.ts";
import { decodeRequest, type InternalRequest, RequestKind } from "./request.ts";
import { compactionFromPb, deleteFromPb, leaseTtlFromPb, putFromPb, txnFromPb } from "./convert.ts";
import type { ServerState } from "./state.ts";

/** What the apply of one request produced, handed to the proposer waiting on its id. */
export type Applied =
  | { kind: "put"; r: m.PutResponse }
  | { kind: "delete"; r: m.DeleteRangeResponse }
  | { kind: "txn"; r: m.TxnResponse }
  | { kind: "compaction"; r: m.CompactionResponse; done: Promise<void> }
  | { kind: "grant"; id: bigint; ttl: number; revision: number }
  | { kind: "token"; token: Promise<string>; revision: number }
  | { kind: "alarms"; alarms: AlarmMember[]; revision: number }
  | { kind: "revision"; revision: number };

/** The result kind each request kind's apply produces. */
export const APPLIED_KIND = {
  [RequestKind.Put]: "put",
  [RequestKind.DeleteRange]: "delete",
  [RequestKind.Txn]: "txn",
  [RequestKind.Compaction]: "compaction",
  [RequestKind.LeaseGrant]: "grant",
  [RequestKind.LeaseRevoke]: "revision",
  [RequestKind.LeaseCheckpoint]: "revision",
  [RequestKind.Alarm]: "alarms",
  [RequestKind.AuthEnable]: "revision",
  [RequestKind.AuthDisable]: "revision",
  [RequestKind.Authenticate]: "token",
  [RequestKind.UserAdd]: "revision",
  [RequestKind.UserDelete]: "revision",
  [RequestKind.UserChangePassword]: "revision",
  [RequestKind.UserGrantRole]: "revision",
  [RequestKind.UserRevokeRole]: "revision",
  [RequestKind.RoleAdd]: "revision",
  [RequestKind.RoleDelete]: "revision",
  [RequestKind.RoleGrantPermission]: "revision",
  [RequestKind.RoleRevokePermission]: "revision",
  [RequestKind.MemberAttrSet]: "revision",
} as const satisfies Record<RequestKind, Applied["kind"]>;

/** What the apply of a request of kind `K` produces: a proposer's typed answer. */
export type AppliedFor<K extends RequestKind> = Extract<
  Applied,
  { kind: (typeof APPLIED_KIND)[K] }
>;

/** The outcome of one request entry: its proposer's id, and the result or the refusal. */
export interface AppliedEntry {
  id: bigint;
  /** The request the entry held (for the log of a slow apply). */
  request: InternalRequest;
  outcome: { value: Applied } | { error: unknown };
}

/** What the applier reads besides the state it changes. */
export interface ApplierContext {
  /** The current applied state (replaced when a snapshot is installed). */
  state(): ServerState;
  tokens: TokenProvider;
  maxTxnOps: number;
}

/** Applies request entries to the member's state. */
export class Applier {
  readonly #ctx: ApplierContext;
  /** The index of the entry being applied (simple tokens are named after it). */
  #applying = 0;

  constructor(ctx: ApplierContext) {
    this.#ctx = ctx;
  }

  /**
   * Applies one normal entry holding a request, in one synchronous step; the caller stores its
   * consistent index in the same step (once per batch, see Member's apply). A request that fails the same way on every member (an etcd error, a request the
   * services should have refused) is consumed as a failed request; anything else stops the
   * member, since a state machine that cannot apply an entry would diverge.
   */
  applyEntry(e: Entry): AppliedEntry {
    let req: InternalRequest;
    try {
      req = decodeRequest(e.data);
    } catch (err) {
      throw new Error(`concord: entry ${e.index} is not a request: ${err}`);
    }
    const s = this.#ctx.state();
    let outcome: AppliedEntry["outcome"];
    this.#applying = e.index;
    try {
      outcome = { value: this.#execute(s, req) };
    } catch (err) {
      if (err instanceof EtcdError) outcome = { error: err };
      else if (err instanceof RangeError) {
        // a number out of its field's range (the services refuse these before proposing;
        // an entry proposed before that check existed is refused the same way everywhere)
        outcome = { error: new EtcdError(GrpcCode.InvalidArgument, err.message) };
      } else throw err;
    } finally {
      this.#applying = 0;
    }
    // each kind has its one result kind, which the proposer's promise is typed with
    // (Member.propose returns the wait as it is, with no check of its own per put): a
    // mismatch is a bug here, refused to the proposer as Member.propose refused it before
    if ("value" in outcome && outcome.value.kind !== APPLIED_KIND[req.kind]) {
      outcome = {
        error: new Error(`concord: request kind ${req.kind} applied as ${outcome.value.kind}`),
      };
    }
    return { id: req.id, request: req, outcome };
  }

  #execute(s: ServerState, r: InternalRequest): Applied {
    if (s.auth.enabled && r.auth !== undefined) checkAuthAtApply(s, r);
    if (s.alarms.has(AlarmType.NOSPACE)) checkCapped(r);
    switch (r.kind) {
      case RequestKind.Put:
        return { kind: "put", r: applyPut(s.store, putFromPb(r.req)) };
      case RequestKind.DeleteRange:
        return { kind: "delete", r: applyDeleteRange(s.store, deleteFromPb(r.req)) };
      case RequestKind.Txn:
        return {
          kind: "txn",
          r: applyTxn(s.store, txnFromPb(r.req), { maxTxnOps: this.#ctx.maxTxnOps }),
        };
      case RequestKind.Compaction: {
        const { response, done } = applyCompaction(s.store, compactionFromPb(r.req));
        done.catch(() => {}); // a waiter that does not ask for physical never looks
        return { kind: "compaction", r: response, done };
      }
      case RequestKind.LeaseGrant: {
        const view = s.lessor.grant(r.req.ID, leaseTtlFromPb(r.req.TTL));
        return { kind: "grant", id: view.id, ttl: view.ttl, revision: s.store.rev() };
      }
      case RequestKind.LeaseRevoke:
        s.lessor.revoke(r.req.ID);
        return { kind: "revision", revision: s.store.rev() };
      case RequestKind.LeaseCheckpoint:
        for (const c of r.req.checkpoints) {
          s.lessor.checkpoint(c.ID, toCounter(c.remainingTTL, "remaining_TTL"));
        }
        return { kind: "revision", revision: s.store.rev() };
      case RequestKind.Alarm:
        return applyAlarm(s, r.req);
      case RequestKind.MemberAttrSet:
        s.membership.setAttributes(r.req.ID, r.req.name, r.req.clientURLs);
        return { kind: "revision", revision: s.store.rev() };
      default:
        return this.#executeAuth(s, r);
    }
  }

  /** The auth requests: each one store mutation (and token bookkeeping). */
  #executeAuth(s: ServerState, r: InternalRequest): Applied {
    const a = s.auth;
    const tokens = this.#ctx.tokens;
    switch (r.kind) {
      case RequestKind.AuthEnable:
        a.enable();
        break;
      case RequestKind.AuthDisable:
        a.disable();
        tokens.invalidateAll();
        break;
      case RequestKind.Authenticate: {
        // the password was checked before proposing; the user may have gone since
        if (!a.enabled) throw Errors.authNotEnabled();
        try {
          a.userGet(r.req.name);
        } catch {
          throw Errors.authFailed();
        }
        const token = tokens.assign(r.req.name, a.revision, r.req.password, this.#applying);
        token.catch(() => {}); // the waiter, if any, sees the failure
        return { kind: "token", token, revision: s.store.rev() };
      }
      case RequestKind.UserAdd:
        a.userAdd(
          r.req.name,
          r.req.options?.noPassword ? { noPassword: true } : { passwordHash: r.req.hashedPassword },
        );
        break;
      case RequestKind.UserDelete:
        a.userDelete(r.req.name);
        tokens.invalidateUser(r.req.name);
        break;
      case RequestKind.UserChangePassword:
        a.userChangePassword(r.req.name, r.req.hashedPassword);
        tokens.invalidateUser(r.req.name);
        break;
      case RequestKind.UserGrantRole:
        a.userGrantRole(r.req.user, r.req.role);
        break;
      case RequestKind.UserRevokeRole:
        a.userRevokeRole(r.req.name, r.req.role);
        break;
      case RequestKind.RoleAdd:
        a.roleAdd(r.req.name);
        break;
      case RequestKind.RoleDelete:
        a.roleDelete(r.req.role);
        break;
      case RequestKind.RoleGrantPermission: {
        const p = r.req.perm;
        a.roleGrantPermission(r.req.name, {
          permType: (p?.permType ?? 0) as number,
          key: p?.key ?? new Uint8Array(0),
          rangeEnd: p?.rangeEnd ?? new Uint8Array(0),
        });
        break;
      }
      case RequestKind.RoleRevokePermission:
        a.roleRevokePermission(r.req.role, r.req.key, r.req.rangeEnd);
        break;
      default:
        throw new Error(`request kind ${r.kind} has no apply`);
    }
    return { kind: "revision", revision: s.store.rev() };
  }
}

/**
 * etcd's authApplierV3: with auth enabled, KV writes, lease revokes and auth changes (root
 * only) are checked again when applied, with the proposer's user and auth revision (an older
 * revision is refused with authOldRevision, which clients answer by authenticating again).
 */
function checkAuthAtApply(s: ServerState, r: InternalRequest): void {
  const info: AuthInfo | undefined = r.auth?.revision === 0 ? undefined : r.auth;
  switch (r.kind) {
    case RequestKind.Put:
      checkPutAuth(s.auth, info, r.req);
      break;
    case RequestKind.DeleteRange:
      checkDeleteAuth(s.auth, info, r.req);
      break;
    case RequestKind.Txn:
      checkTxnAuth(s.auth, info, r.req);
      break;
    case RequestKind.LeaseRevoke:
      checkRevokeAuth(s, info, r.req.ID);
      break;
    case RequestKind.AuthEnable:
    case RequestKind.AuthDisable:
    case RequestKind.UserAdd:
    case RequestKind.UserDelete:
    case RequestKind.UserChangePassword:
    case RequestKind.UserGrantRole:
    case RequestKind.UserRevokeRole:
    case RequestKind.RoleAdd:
    case RequestKind.RoleDelete:
    case RequestKind.RoleGrantPermission:
    case RequestKind.RoleRevokePermission:
      // etcd's needAdminPermission
      s.auth.checkAdmin(info);
      break;
  }
}

/** etcd's alarm apply: list, raise or clear. */
function applyAlarm(s: ServerState, req: AlarmRequest): Applied {
  let alarms: AlarmMember[] = [];
  switch (req.action) {
    case AlarmRequest_AlarmAction.GET:
      alarms = s.alarms.get(req.alarm);
      break;
    case AlarmRequest_AlarmAction.ACTIVATE:
      if (req.alarm !== AlarmType.NONE) alarms = [s.alarms.activate(req.memberID, req.alarm)];
      break;
    case AlarmRequest_AlarmAction.DEACTIVATE: {
      const a = s.alarms.deactivate(req.memberID, req.alarm);
      if (a) alarms = [a];
      break;
    }
  }
  return { kind: "alarms", alarms, revision: s.store.rev() };
}

/** etcd's applierV3Capped: with NOSPACE raised, writes that would grow the store fail. */
function checkCapped(r: InternalRequest): void {
  if (
    r.kind === RequestKind.Put || r.kind === RequestKind.LeaseGrant ||
    (r.kind === RequestKind.Txn && costTxn(r.req) > 0)
  ) {
    throw Errors.noSpace();
  }
}
