/**
 * Leases in a whole-cluster run: a client grants leases (through the Lease service, with ids
 * it picks, so a grant whose answer is lost is still known), attaches keys to them (KV puts
 * with the lease), keeps some alive, revokes some and lets the others expire. The checks, on
 * the recorded history once every lease is gone: a key attached to a lease is deleted with
 * it, all of the lease's keys in one revision (at the revoke's revision when a revoke was
 * acknowledged), and never comes back; a lease nobody revoked loses its keys no earlier than
 * its TTL after the last keep-alive (or grant) that was answered, and no later than its TTL
 * after that or after the last lessor promotion since (a new leader's lessor gives every lease
 * its TTL again, plus the election timeout, as etcd's Promote, once the leader applied its
 * term's first entry, which needs a quorum), with the slack of the lessor's scan (500 ms), its
 * retry of a revoke lost to a leader change (3 s) and a commit, not counting the time in which
 * no lessor was primary (nobody could revoke).
 */
import { KvServer } from "../../lib/server/kv_server.ts";
import { LeaseServer } from "../../lib/server/lease_server.ts";
import { create } from "@bufbuild/protobuf";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { leaseService } from "../../lib/api/lease_service.ts";
import { kvService } from "../../lib/api/kv_service.ts";
import { apiContext, errorText, pickMember, type RunContext, serve } from "./run_context.ts";
import type { HistoryView } from "./history_archive.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** What the client did with one lease and what it was answered. */
export interface LeaseRecord {
  id: bigint;
  /** The TTL asked for (at least the cluster's 1 s minimum, so also the one granted). */
  ttlMs: number;
  grantCallMs: number;
  /** The grant was answered (else its outcome is unknown). */
  granted: boolean;
  /** Keys attached; `rev` is the acknowledged put's revision (null: unknown or refused). */
  keys: { key: string; value: string; rev: number | null }[];
  /** Call times of keep-alives answered with a TTL > 0. */
  renewedAtMs: number[];
  revokeCalled: boolean;
  /** The acknowledged revoke's header revision. */
  revokeRev: number | null;
}

/** Runs `leases` leases one after another; returns what happened to each. */
export async function leaseClient(ctx: RunContext, leases: number): Promise<LeaseRecord[]> {
  const { r, c } = ctx;
  const out: LeaseRecord[] = [];
  for (let n = 0; n < leases; n++) {
    await ctx.sleep(20 + r.int(200));
    const pick = pickMember(ctx);
    if (pick === null) continue;
    const rec: LeaseRecord = {
      id: 0x5157_0000n + BigInt(n + 1),
      ttlMs: 1000 * (1 + r.int(2)),
      grantCallMs: c.clock.now(),
      granted: false,
      keys: [],
      renewedAtMs: [],
      revokeCalled: false,
      revokeRev: null,
    };
    out.push(rec);
    const grant = await ctx.within(serve(() =>
      leaseService(new LeaseServer(pick.m)).leaseGrant!(
        create(pb.LeaseGrantRequestSchema, { ID: rec.id, TTL: BigInt(rec.ttlMs / 1000) }),
        apiContext(),
      )
    ));
    ctx.note(
      `lease ${rec.id.toString(16)} grant (ttl ${rec.ttlMs} ms) through ` +
        `${pick.m.config.name}: ${describe(grant)}`,
    );
    if (grant === "timeout" || "e" in grant) continue;
    rec.granted = true;
    for (let j = 0, keys = 1 + r.int(2); j < keys; j++) {
      const p = pickMember(ctx);
      if (p === null) continue;
      const k = { key: `L${n}/${j}`, value: `l${n}.${j}`, rev: null as number | null };
      rec.keys.push(k);
      const put = await ctx.within(serve(() =>
        kvService(new KvServer(p.m)).put!(
          create(pb.PutRequestSchema, {
            key: enc.encode(k.key),
            value: enc.encode(k.value),
            lease: rec.id,
          }),
          apiContext(),
        )
      ));
      if (put !== "timeout" && "v" in put) k.rev = Number(put.v.header?.revision);
    }
    for (let k = r.int(4); k > 0; k--) {
      await ctx.sleep(200 + r.int(700));
      const p = pickMember(ctx);
      if (p === null) continue;
      const at = c.clock.now();
      const renew = await ctx.within(p.m.leaseRenew(rec.id));
      if (renew !== "timeout" && "v" in renew && renew.v > 0) rec.renewedAtMs.push(at);
    }
    if (r.chance(0.5)) {
      const p = pickMember(ctx);
      if (p === null) continue;
      rec.revokeCalled = true;
      const revoke = await ctx.within(serve(() =>
        leaseService(new LeaseServer(p.m)).leaseRevoke!(
          create(pb.LeaseRevokeRequestSchema, { ID: rec.id }),
          apiContext(),
        )
      ));
      ctx.note(
        `lease ${rec.id.toString(16)} revoke through ${p.m.config.name}: ` +
          describe(revoke),
      );
      if (revoke !== "timeout" && "v" in revoke) rec.revokeRev = Number(revoke.v.header?.revision);
    }
  }
  return out;
}

function describe(o: "timeout" | { v: unknown } | { e: unknown }): string {
  return o === "timeout" ? "timed out" : "e" in o ? `failed: ${errorText(o.e)}` : "ok";
}

/** Violations of the lease guarantees in the recorded history (every lease gone by now). */
/** What bounds how late a lease may expire. */
export interface LeaseTimes {
  /**
   * When a leader's lessor became primary (sorted): it applied its own term's first entry, so
   * a leader without a quorum gives no lease its TTL again until it has one.
   */
  promotions: readonly number[];
  /**
   * Spans [from, to) in which no leader's lessor was primary (no member could revoke: a
   * leader without a quorum, or none); their time does not count toward the bound (seed
   * 42002616). Optional: a real run sees no lessors.
   */
  unprimary?: readonly (readonly [number, number])[];
  /** The TTL extension a new leader gives every lease (the election timeout). */
  extendMs: number;
  /** An answered call took effect at most this long after it was made (the client timeout). */
  answeredWithinMs: number;
}

/**
 * How long no lessor was primary between `from` and a bound that grows by that time (a span
 * that the grown bound reaches counts too).
 */
function unprimaryTime(times: LeaseTimes, from: number, deadline: number): number {
  let extra = 0;
  for (;;) {
    const end = deadline + EXPIRY_SLACK_MS + extra;
    let sum = 0;
    for (const [a, b] of times.unprimary ?? []) {
      sum += Math.max(0, Math.min(b, end) - Math.max(a, from));
    }
    if (sum === extra) return extra;
    extra = sum;
  }
}

/** The lessor's scan (500 ms), a revoke retried after a leader change (3 s), a commit (1 s). */
const EXPIRY_SLACK_MS = 500 + 3000 + 1000;

export function checkLeases(
  leases: readonly LeaseRecord[],
  h: HistoryView,
  times?: LeaseTimes,
): string[] {
  const bad: string[] = [];
  for (const l of leases) {
    const name = `lease ${l.id.toString(16)}`;
    const deletedAt = new Set<number>();
    for (const k of l.keys) {
      const changes = h.changes(k.key);
      if (k.rev !== null) {
        const kv = h.at(k.key, k.rev);
        if (kv === undefined || kv.modRevision !== k.rev || dec.decode(kv.value) !== k.value) {
          bad.push(`${name}: acknowledged put of ${k.key} at rev ${k.rev} is not in the history`);
        } else if (kv.lease !== l.id) {
          bad.push(`${name}: ${k.key} at rev ${k.rev} carries lease ${kv.lease.toString(16)}`);
        }
      }
      if (changes.length === 0) continue;
      const [put, del, ...rest] = changes;
      if (put.kv === undefined || put.kv.lease !== l.id) {
        bad.push(`${name}: ${k.key} first changed at rev ${put.rev} without the lease`);
        continue;
      }
      if (del === undefined || del.kv !== undefined) {
        bad.push(`${name}: ${k.key} (put at rev ${put.rev}) outlived its lease`);
        continue;
      }
      if (rest.length > 0) {
        bad.push(`${name}: ${k.key} came back at rev ${rest[0].rev} after its lease deleted it`);
      }
      deletedAt.add(del.rev);
      if (l.revokeRev !== null && del.rev !== l.revokeRev) {
        bad.push(
          `${name}: ${k.key} deleted at rev ${del.rev}, the revoke answered rev ` +
            `${l.revokeRev}`,
        );
      }
      if (!l.revokeCalled) {
        const from = Math.max(l.grantCallMs, ...l.renewedAtMs);
        if (del.seenMs < from + l.ttlMs) {
          bad.push(
            `${name}: ${k.key} deleted by ${del.seenMs} ms, before the lease's TTL ` +
              `(${l.ttlMs} ms) from its last grant or answered keep-alive at ${from} ms`,
          );
        }
        if (times !== undefined && l.granted) {
          // the latest the lease's clock can have (re)started: an answered call's effect
          let deadline = from + times.answeredWithinMs + l.ttlMs;
          for (const t of times.promotions) {
            if (t >= from && t <= del.seenMs) {
              deadline = Math.max(deadline, t + l.ttlMs + times.extendMs);
            }
          }
          const bound = deadline + EXPIRY_SLACK_MS + unprimaryTime(times, from, deadline);
          if (del.seenMs > bound) {
            bad.push(
              `${name}: ${k.key} deleted only by ${del.seenMs} ms, past its TTL (${l.ttlMs} ms) ` +
                `from its last grant or keep-alive (${from} ms) and from every lessor promoted ` +
                `since (deadline ${deadline} ms, slack ${EXPIRY_SLACK_MS} ms, bound ${bound} ms ` +
                `with the time no lessor was primary)`,
            );
          }
        }
      }
    }
    if (deletedAt.size > 1) {
      bad.push(`${name}: its keys were deleted at different revisions ${[...deletedAt]}`);
    }
  }
  return bad;
}
