/**
 * A running member's proposal path (etcd's processInternalRaftRequestOnce): a request gets an
 * id from the member's etcd-idutil sequence, is encoded and checked against
 * --max-request-bytes, waits for its apply under that id and is handed to raft; the answer is
 * what the apply produced, of the one result kind its request kind has. Also the quota check a
 * write makes before it proposes (NOSPACE).
 */
import { create } from "@bufbuild/protobuf";
import { Errors } from "../base/errors.ts";
import type { MemberId } from "../base/types.ts";
import type { Clock } from "../io/clock.ts";
import type { Backend } from "../backend/backend.ts";
import { ProposalDroppedError } from "../raft/mod.ts";
import {
  AlarmRequest_AlarmAction,
  AlarmRequestSchema,
  AlarmType,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { AuthInfo } from "../auth/store.ts";
import type { ServerConfig } from "./config.ts";
import type { Applied, AppliedFor } from "./applier.ts";
import type { Proposal } from "./member_options.ts";
import { quotaBytes } from "./quota.ts";
import type { RaftLoop } from "./raft_loop.ts";
import { encodeRequest, type InternalRequest, RequestKind } from "./request.ts";
import type { Waits } from "./waits.ts";

/** What the proposal path uses of its member. */
export interface ProposalsHost {
  readonly id: MemberId;
  readonly config: ServerConfig;
  readonly clock: Clock;
  /** How long a proposer waits for its apply. */
  readonly timeoutMs: number;
  readonly waits: Waits<Applied>;
  readonly loop: RaftLoop;
  /** The current backend (replaced when a snapshot is installed). */
  backend(): Backend;
  /** Neither stopped nor failed. */
  running(): boolean;
}

/** The proposals of one member. */
export class MemberProposals {
  readonly #h: ProposalsHost;
  #nextReqId: bigint;

  constructor(host: ProposalsHost) {
    this.#h = host;
    // etcd's idutil: the member id's low 16 bits, then the start time in ms (40 bits) and a
    // counter, so two members (or two incarnations) never propose under one request id: a
    // member answers its waiter for whatever entry carries the id, whoever proposed it
    this.#nextReqId = ((host.id & 0xffffn) << 48n) |
      ((BigInt(host.clock.wallNow()) & 0xff_ffff_ffffn) << 8n);
  }

  /** A fresh request id (membership changes take theirs from the same sequence). */
  nextRequestId(): bigint {
    return ++this.#nextReqId;
  }

  /**
   * Proposes a request through raft and resolves with what its apply produced. `auth` (the
   * proposer's, while auth is enabled) travels with KV writes and lease revokes so the apply
   * checks permissions again in log order.
   */
  propose<P extends Proposal>(p: P, auth?: AuthInfo): Promise<AppliedFor<P["kind"]>> {
    // the applier answers each kind with its one result kind (Applier.applyEntry checks it
    // and refuses the proposer otherwise), so the wait is returned as it is: a `.then` here
    // was one more promise, reaction and closure held by every put through its commit wait
    return this.#propose(p, auth) as Promise<AppliedFor<P["kind"]>>;
  }

  #propose(p: Proposal, auth?: AuthInfo): Promise<Applied> {
    if (!this.#h.running()) return Promise.reject(Errors.stopped());
    const id = ++this.#nextReqId;
    const data = encodeRequest(
      {
        ...p,
        id,
        ...(auth ? { auth: { username: auth.username, revision: auth.revision } } : {}),
      } as InternalRequest,
    );
    // etcd checks the marshaled raft request against --max-request-bytes before proposing
    // (the API front admits 512 KiB of framing on top for the gRPC message itself)
    if (data.length > this.#h.config.maxRequestBytes) {
      return Promise.reject(Errors.requestTooLarge());
    }
    // no timer per request: the ticker expires waiters (Waits.expire)
    const wait = this.#h.waits.register(id, this.#h.clock.now() + this.#h.timeoutMs);
    try {
      this.#h.loop.node.propose(data);
    } catch (err) {
      this.#h.waits.fail(id, err instanceof ProposalDroppedError ? Errors.noLeader() : err);
      return wait;
    }
    this.#h.loop.drive();
    return wait;
  }

  /** Whether a write that costs `cost` bytes fits the quota (checkQuota's test, synchronous). */
  withinQuota(cost: number): boolean {
    return cost === 0 ||
      this.#h.backend().stats().fileBytes + cost < quotaBytes(this.#h.config.quotaBackendBytes);
  }

  /**
   * The quota check before proposing a write that costs `cost` bytes: past the quota, raise
   * NOSPACE (through raft) and refuse with etcd's "database space exceeded".
   */
  async checkQuota(cost: number): Promise<void> {
    if (this.withinQuota(cost)) return;
    await this.propose({
      kind: RequestKind.Alarm,
      req: create(AlarmRequestSchema, {
        memberID: this.#h.id,
        action: AlarmRequest_AlarmAction.ACTIVATE,
        alarm: AlarmType.NOSPACE,
      }),
    }).catch(() => {
      // refused either way; the next write tries to raise it again
    });
    throw Errors.noSpace();
  }
}
