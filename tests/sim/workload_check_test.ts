/**
 * The checkers of the widened workload fail on what they must catch: a member whose store
 * departs from the recorded history, a leased key that outlives its lease, comes back, or goes
 * before its TTL, a past read served from a compacted revision or with the wrong state, a
 * compaction refused as a future revision, a compacted watch response nobody needed, and a
 * missing previous value where nothing was compacted. Histories are made on a real MVCC store.
 */
import assert from "node:assert/strict";
import { MvccStore } from "../../lib/mvcc/kv_store.ts";
import { applyDeleteRange, applyPut } from "../../lib/mvcc/applier.ts";
import { Errors } from "../../lib/base/errors.ts";
import { newDisk, openSimBackend } from "../mvcc/helpers.ts";
import { TestLessor } from "../mvcc/test_lessor.ts";
import { HistoryArchive } from "./history_archive.ts";
import { checkLeases, type LeaseRecord } from "./lease_workload.ts";
import { type AdminRecords, checkAdmin } from "./compaction_workload.ts";
import { checkCompacted, checkWatch, referenceEvents } from "./watch_check.ts";

const enc = new TextEncoder();
const LEASE = 0xa1n;

async function newStore(): Promise<MvccStore> {
  return MvccStore.open(await openSimBackend(await newDisk()), {
    leases: new TestLessor([LEASE]),
  });
}

function put(s: MvccStore, key: string, value: string, lease = 0n): number {
  return applyPut(s, { key: enc.encode(key), value: enc.encode(value), lease }).header.revision;
}

function del(s: MvccStore, key: string): number {
  return applyDeleteRange(s, { key: enc.encode(key) }).header.revision;
}

Deno.test("history archive: records every revision and names a member that departs from it", async () => {
  const a = await newStore();
  const b = await newStore();
  const h = new HistoryArchive();
  put(a, "k", "1");
  put(a, "j", "2");
  del(a, "k");
  h.observe("a", a, 10);
  assert.equal(h.rev(), 4);
  assert.equal(h.at("k", 2)?.modRevision, 2);
  assert.equal(h.at("k", 4), undefined);
  assert.deepEqual(h.changes("k").map((c) => [c.rev, c.kv === undefined]), [[2, false], [4, true]]);
  put(b, "k", "1");
  put(b, "j", "other");
  h.observe("b", b, 20);
  assert.deepEqual(h.violations, [
    "b differs from the cluster's history at revision 3: it has [j=other@3/3/v1, k=1@2/2/v1], " +
    "the history [j=2@3/3/v1, k=1@2/2/v1]",
  ]);
});

/** A lease granted at 0 ms with a 1 s TTL, one key put at rev 2. */
function lease(extra: Partial<LeaseRecord> = {}): LeaseRecord {
  return {
    id: LEASE,
    ttlMs: 1000,
    grantCallMs: 0,
    granted: true,
    keys: [{ key: "L0/0", value: "v", rev: 2 }],
    renewedAtMs: [],
    revokeCalled: false,
    revokeRev: null,
    ...extra,
  };
}

Deno.test("lease check: a leased key deleted after its TTL passes; early, late, back or at the wrong revision fails", async () => {
  const s = await newStore();
  const h = new HistoryArchive();
  put(s, "L0/0", "v", LEASE);
  h.observe("m", s, 100);
  assert.match(checkLeases([lease()], h).join(), /outlived its lease/);
  del(s, "L0/0"); // as the lease's revoke deletes it: rev 3
  h.observe("m", s, 1200);
  assert.deepEqual(checkLeases([lease()], h), []);
  assert.deepEqual(checkLeases([lease({ revokeCalled: true, revokeRev: 3 })], h), []);
  assert.match(
    checkLeases([lease({ renewedAtMs: [400] })], h).join(),
    /deleted by 1200 ms, before the lease's TTL \(1000 ms\) from its last grant or answered keep-alive at 400 ms/,
  );
  assert.match(
    checkLeases([lease({ revokeCalled: true, revokeRev: 5 })], h).join(),
    /deleted at rev 3, the revoke answered rev 5/,
  );
  put(s, "L0/0", "again", LEASE);
  h.observe("m", s, 1300);
  assert.match(checkLeases([lease()], h).join(), /came back at rev 4/);
  assert.match(
    checkLeases([lease({ keys: [{ key: "L0/0", value: "w", rev: 2 }] })], h).join(),
    /acknowledged put of L0\/0 at rev 2 is not in the history/,
  );
});

Deno.test("lease check: a lease that expires long past its TTL fails, unless a lessor promoted since gave it its TTL again", async () => {
  const s = await newStore();
  const h = new HistoryArchive();
  put(s, "L0/0", "v", LEASE); // granted at 0 ms (answered within 1.5 s), TTL 1 s
  h.observe("m", s, 100);
  del(s, "L0/0");
  h.observe("m", s, 9000); // deleted only at 9 s
  const times = { promotions: [] as number[], extendMs: 100, answeredWithinMs: 1500 };
  assert.match(
    checkLeases([lease()], h, times).join(),
    /deleted only by 9000 ms, past its TTL \(1000 ms\).*deadline 2500 ms, slack 4500 ms/,
  );
  // a lessor promoted at 4 s extends it to 5.1 s: 9 s is within the slack
  assert.deepEqual(checkLeases([lease()], h, { ...times, promotions: [4000] }), []);
  // time with no primary lessor (nobody could revoke) does not count: 2 s of it moves the
  // bound from 7 s to 9 s (seed 42002616); 1.9 s does not reach 9 s
  assert.deepEqual(checkLeases([lease()], h, { ...times, unprimary: [[3000, 5000]] }), []);
  assert.match(
    checkLeases([lease()], h, { ...times, unprimary: [[3000, 4900]] }).join(),
    /deleted only by 9000 ms.*bound 8900 ms/,
  );
  // an unanswered grant bounds nothing (it may have applied any time)
  assert.deepEqual(checkLeases([lease({ granted: false })], h, times), []);
});

Deno.test("compaction check: past reads answer the history or fail as compacted only behind a compaction", async () => {
  const s = await newStore();
  const h = new HistoryArchive();
  put(s, "k", "1"); // rev 2
  put(s, "k", "2"); // rev 3
  h.observe("m", s, 10);
  const records = (extra: Partial<AdminRecords>): AdminRecords => ({
    compactions: [],
    reads: [],
    defrags: 0,
    defragFailures: [],
    ...extra,
  });
  const read = (rev: number, outcome: { kvs: string } | { error: string }, call = 10) => ({
    member: "m1",
    rev,
    linearizable: true,
    call,
    ret: call + 1,
    outcome,
  });
  const compaction = { rev: 3, call: 1, ret: 2, error: null };
  assert.deepEqual(checkAdmin(records({ reads: [read(2, { kvs: "k=1@2" })] }), h), []);
  assert.match(
    checkAdmin(records({ reads: [read(2, { kvs: "k=2@3" })] }), h).join(),
    /answered \[k=2@3\], the history has \[k=1@2\]/,
  );
  assert.match(
    checkAdmin(records({ compactions: [compaction], reads: [read(2, { kvs: "k=1@2" })] }), h)
      .join(),
    /answered, after the compaction at 3 was acknowledged/,
  );
  const compacted = { error: Errors.compacted().message };
  assert.deepEqual(
    checkAdmin(records({ compactions: [compaction], reads: [read(2, compacted)] }), h),
    [],
  );
  assert.match(
    checkAdmin(records({ reads: [read(2, compacted)] }), h).join(),
    /failed as compacted, but no compaction above it was asked for/,
  );
  assert.match(
    checkAdmin(records({ reads: [read(3, { error: Errors.futureRev().message })] }), h).join(),
    /failed as a future revision/,
  );
  assert.match(
    checkAdmin(
      records({ compactions: [{ ...compaction, error: Errors.futureRev().message }] }),
      h,
    ).join(),
    /compaction at 3 failed as a future revision/,
  );
});

Deno.test("watch check: a compacted response only for a watcher behind the compaction; prev_kv missing only where compacted", async () => {
  const s = await newStore();
  const h = new HistoryArchive();
  put(s, "k", "1"); // rev 2
  put(s, "k", "2"); // rev 3
  h.observe("m", s, 10);
  const w = { name: "w", startRev: 2, responses: [], compacted: 3 };
  assert.deepEqual(checkCompacted(w, new Set([3])), []);
  assert.match(checkCompacted({ ...w, startRev: 3 }, new Set([3])).join(), /needed revision 3/);
  assert.match(checkCompacted(w, new Set([4])).join(), /no compaction asked for/);
  const ref = referenceEvents(h, { prevKv: true, noPut: false, noDelete: false });
  assert.deepEqual(ref.get(3), ["PUT k=2@3 prev=1@2"]);
  const bare = {
    name: "p",
    startRev: 3,
    responses: [{ rev: 3, events: [{ rev: 3, text: "PUT k=2@3 prev=-" }] }],
  };
  assert.match(checkWatch(bare, ref, 0).join(), /the history has \["PUT k=2@3 prev=1@2"\]/);
  assert.deepEqual(checkWatch(bare, ref, 0, 3), []);
  const noPut = referenceEvents(h, { prevKv: false, noPut: true, noDelete: false });
  assert.equal(noPut.size, 0);
});
