/**
 * Compaction, defragmentation and reads at past revisions in a whole-cluster run, through the
 * KV and Maintenance services: compactions at revisions the run already recorded (physical or
 * not), defrags of a random member's backend, and ranges over every key at a past revision,
 * linearizable or serializable. The checks: a past read answers the history's state at its
 * revision, or fails with etcd's 'required revision has been compacted' only when a
 * compaction past that revision had been asked for; a linearizable one called after such a
 * compaction was acknowledged fails so. A compaction fails only as compacted, and only behind
 * another compaction asked for; never as a future revision (its revision was committed). A
 * defrag fails only when its member crashed or installed a snapshot under it.
 */
import { KvServer } from "../../lib/server/kv_server.ts";
import { MaintenanceServer } from "../../lib/server/maintenance_server.ts";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { KeyValueSchema } from "../../proto/gen/mvccpb/kv_pb.ts";
import { Errors } from "../../lib/base/errors.ts";
import { kvService } from "../../lib/api/kv_service.ts";
import { maintenanceService } from "../../lib/api/maintenance_service.ts";
import type { KeyValue } from "../../lib/mvcc/types.ts";
import { apiContext, errorText, pickMember, type RunContext, serve } from "./run_context.ts";
import type { HistoryView } from "./history_archive.ts";
import { SIM_DEFRAG_ERROR } from "./armed_faults.ts";

const dec = new TextDecoder();
const COMPACTED = Errors.compacted().message;
const FUTURE = Errors.futureRev().message;

/** A compaction asked for, and its outcome (null: no answer). */
export interface CompactionRecord {
  rev: number;
  call: number;
  ret: number | null;
  error: string | null;
}

/** A range over every key at a past revision. */
export interface PastRead {
  member: string;
  rev: number;
  linearizable: boolean;
  call: number;
  ret: number;
  outcome: { kvs: string } | { error: string };
}

export interface AdminRecords {
  compactions: CompactionRecord[];
  reads: PastRead[];
  defrags: number;
  /** Defrags that failed on a member still running afterwards. */
  defragFailures: string[];
}

/** Runs `n` admin operations with pauses between them. */
export async function adminClient(ctx: RunContext, n: number): Promise<AdminRecords> {
  const { r, c } = ctx;
  const out: AdminRecords = { compactions: [], reads: [], defrags: 0, defragFailures: [] };
  for (let k = 0; k < n; k++) {
    await ctx.sleep(30 + r.int(150));
    const pick = pickMember(ctx);
    const top = ctx.archive.rev();
    if (pick === null || top === 0) continue;
    const { m, i } = pick;
    const what = r.int(10);
    if (what < 5) {
      const rev = 1 + r.int(top);
      const linearizable = r.chance(0.6);
      const call = ctx.tick();
      const got = await ctx.within(serve(() =>
        kvService(new KvServer(m)).range!(
          create(pb.RangeRequestSchema, {
            key: new Uint8Array([0]),
            rangeEnd: new Uint8Array([0]),
            revision: BigInt(rev),
            serializable: !linearizable,
          }),
          apiContext(),
        )
      ));
      if (got === "timeout") continue;
      const outcome = "v" in got
        ? { kvs: describeKvs(got.v.kvs ?? []) }
        : { error: errorText(got.e) };
      if ("error" in outcome && outcome.error !== COMPACTED && outcome.error !== FUTURE) continue;
      out.reads.push({ member: m.config.name, rev, linearizable, call, ret: ctx.tick(), outcome });
    } else if (what < 8) {
      const rec: CompactionRecord = {
        rev: 1 + r.int(top),
        call: ctx.tick(),
        ret: null,
        error: null,
      };
      out.compactions.push(rec);
      const physical = r.chance(0.5);
      ctx.note(`compact at ${rec.rev}${physical ? " (physical)" : ""} through ${m.config.name}`);
      const got = await ctx.within(serve(() =>
        kvService(new KvServer(m)).compact!(
          create(pb.CompactionRequestSchema, { revision: BigInt(rec.rev), physical }),
          apiContext(),
        )
      ));
      if (got === "timeout") continue;
      rec.ret = ctx.tick();
      if ("e" in got) rec.error = errorText(got.e);
    } else {
      out.defrags++;
      ctx.note(`defrag ${m.config.name}`);
      const got = await ctx.within(
        serve(() =>
          maintenanceService(new MaintenanceServer(m)).defragment!(
            create(pb.DefragmentRequestSchema, {}),
            apiContext(),
          )
        ),
      );
      // a member that crashed under its defrag fails it; one otherwise running must not (a
      // snapshot install that replaces the backend under the copy makes the defrag start
      // again on the new one: maintenance_server.ts)
      // and one on a disk made full fails there (no room for its copy: the member serves on
      // its old file; or the member failed on its full disk meanwhile)
      const full = got !== "timeout" && "e" in got && c.disks[i].capacity !== Infinity &&
        errorText(got.e).includes("no space left on device");
      // and one failed at defragOpenFileError by the run's fault points (the member serves on)
      const armed = got !== "timeout" && "e" in got && errorText(got.e).includes(SIM_DEFRAG_ERROR);
      if (
        got !== "timeout" && "e" in got && c.members[i] === m && !full && !armed
      ) {
        out.defragFailures.push(`defrag of ${m.config.name} failed: ${errorText(got.e)}`);
      }
    }
  }
  return out;
}

/** A range's answer as `stateAt` writes the history. */
function describeKvs(kvs: readonly MessageInitShape<typeof KeyValueSchema>[]): string {
  return kvs.map((kv) =>
    `${dec.decode(kv.key ?? new Uint8Array())}=${dec.decode(kv.value ?? new Uint8Array())}@${
      kv.modRevision ?? 0
    }`
  ).join(", ");
}

/** Every key at `rev` as the history has it, as `describeKvs` writes a range's answer. */
function stateAt(h: HistoryView, rev: number): string {
  return h.keys().sort().flatMap((k) => {
    const kv: KeyValue | undefined = h.at(k, rev);
    return kv === undefined ? [] : [`${k}=${dec.decode(kv.value)}@${kv.modRevision}`];
  }).join(", ");
}

/** Violations of the compaction guarantees (see the file's comment). */
export function checkAdmin(a: AdminRecords, h: HistoryView): string[] {
  const bad: string[] = [...a.defragFailures];
  /** True when a compaction above `rev` was asked for before position `before`. */
  const compactedBefore = (rev: number, before: number) =>
    a.compactions.some((c) => c.rev > rev && c.call < before);
  for (const read of a.reads) {
    const name = `${read.linearizable ? "linearizable" : "serializable"} read at rev ` +
      `${read.rev} through ${read.member}`;
    if ("kvs" in read.outcome) {
      const want = stateAt(h, read.rev);
      if (read.outcome.kvs !== want) {
        bad.push(`${name} answered [${read.outcome.kvs}], the history has [${want}]`);
      }
      const acked = a.compactions.find((c) =>
        c.ret !== null && c.error === null && c.ret < read.call && c.rev > read.rev
      );
      if (read.linearizable && acked !== undefined) {
        bad.push(`${name} answered, after the compaction at ${acked.rev} was acknowledged`);
      }
    } else if (read.outcome.error === COMPACTED) {
      if (!compactedBefore(read.rev, read.ret)) {
        bad.push(`${name} failed as compacted, but no compaction above it was asked for`);
      }
    } else if (read.linearizable) {
      bad.push(`${name} failed as a future revision (the revision was committed)`);
    }
  }
  for (const c of a.compactions) {
    if (c.error === null || c.ret === null) continue;
    if (c.error === COMPACTED) {
      // etcd refuses a compaction at or below the compacted revision
      if (!a.compactions.some((o) => o !== c && o.rev >= c.rev && o.call < c.ret!)) {
        bad.push(`compaction at ${c.rev} failed as compacted, but none at or above it was asked`);
      }
    } else if (c.error === FUTURE) {
      bad.push(`compaction at ${c.rev} failed as a future revision (the revision was committed)`);
    }
  }
  return bad;
}
