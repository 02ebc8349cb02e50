/**
 * The events a member logs as etcd logs them (lib/base/log.ts): leader changes, membership
 * changes, and the notable applies (etcd's "apply request took too long" past
 * --experimental-warning-apply-duration, alarms, compactions). Kept beside the member so its
 * own code carries one call per event.
 */
import { type Logger, tookField } from "../base/log.ts";
import type { ClusterId, MemberId } from "../base/types.ts";
import { AlarmRequest_AlarmAction, AlarmType } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { AppliedEntry } from "./applier.ts";
import { formatId } from "./member_id.ts";
import type { MemberRecord } from "./membership.ts";
import { RequestKind } from "./request.ts";
import { summarizeRequest } from "./request_summary.ts";

/** The log of one member's events. */
export class MemberEvents {
  readonly #log: Logger;
  readonly #ids: Record<string, string>;
  readonly #slowApplyMs: number;

  constructor(log: Logger, clusterId: ClusterId, id: MemberId, slowApplyMs: number) {
    this.#log = log;
    this.#ids = { "cluster-id": formatId(clusterId), "local-member-id": formatId(id) };
    this.#slowApplyMs = slowApplyMs;
  }

  /** After each applied request: logs it when slow, an alarm or a compaction (cheap otherwise). */
  applied(r: AppliedEntry, took: number): void {
    const kind = r.request.kind;
    if (
      took <= this.#slowApplyMs && kind !== RequestKind.Alarm && kind !== RequestKind.Compaction
    ) {
      return;
    }
    if (took > this.#slowApplyMs) {
      this.#log.warn("apply request took too long", {
        took: tookField(took),
        "expected-duration": tookField(this.#slowApplyMs),
        request: summarizeRequest(r.request),
        ...("error" in r.outcome ? { error: r.outcome.error } : {}),
      });
    }
    const q = r.request;
    if (!("value" in r.outcome)) return;
    if (q.kind === RequestKind.Alarm) {
      const fields = { alarm: AlarmType[q.req.alarm], from: formatId(q.req.memberID) };
      if (q.req.action === AlarmRequest_AlarmAction.ACTIVATE) {
        this.#log.warn("alarm raised", fields);
      } else if (q.req.action === AlarmRequest_AlarmAction.DEACTIVATE) {
        this.#log.info("alarm disarmed", fields);
      }
    } else if (q.kind === RequestKind.Compaction) {
      this.#log.info("finished scheduled compaction", {
        "compact-revision": q.req.revision,
        took: tookField(took),
      });
    }
  }

  /** The leader this member follows changed from `had` to `lead` (0: none). */
  leader(had: MemberId, lead: MemberId, term: number): void {
    const me = this.#ids["local-member-id"];
    if (lead === 0n) {
      this.#log.warn("lost leader", { "local-member-id": me, "lost-leader": formatId(had), term });
    } else {
      this.#log.info(had === 0n ? "elected leader" : "leader changed", {
        "local-member-id": me,
        leader: formatId(lead),
        ...(had === 0n ? {} : { "previous-leader": formatId(had) }),
        term,
      });
    }
  }

  /** A member was added (or re-added with new peer URLs) by an applied conf change. */
  added(m: MemberRecord): void {
    this.#log.info("added member", {
      ...this.#ids,
      "added-peer-id": formatId(m.id),
      "added-peer-peer-urls": m.peerURLs,
      "added-peer-is-learner": m.isLearner,
    });
  }

  /** A learner was promoted to a voting member. */
  promoted(id: MemberId): void {
    this.#log.info("promote member", { ...this.#ids, "promoted-member-id": formatId(id) });
  }

  /** A member was removed. */
  removed(id: MemberId, peerURLs: string[] | undefined): void {
    this.#log.info("removed member", {
      ...this.#ids,
      "removed-remote-peer-id": formatId(id),
      "removed-remote-peer-urls": peerURLs,
    });
  }

  /** A member's peer URLs were updated. */
  updated(id: MemberId, peerURLs: string[]): void {
    this.#log.info("updated member", {
      ...this.#ids,
      "updated-remote-peer-id": formatId(id),
      "updated-remote-peer-urls": peerURLs,
    });
  }
}
