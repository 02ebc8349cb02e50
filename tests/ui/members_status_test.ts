/** The Cluster page's reading of GET /ui/api/members-status: figures, errors, refusals. */
import assert from "node:assert/strict";
import { parseMembersStatus } from "../../lib/ui/members_status.ts";
import { MEMBERS_STATUS_PATH as API_PATH } from "../../lib/api/console/members_status.ts";
import { MEMBERS_STATUS_PATH } from "../../lib/ui/members_status.ts";

Deno.test("members status: the page asks where the API answers", () => {
  assert.equal(MEMBERS_STATUS_PATH, API_PATH);
});

Deno.test("members status: a member's figures (zero values left out) and a member's error", () => {
  const parsed = parseMembersStatus({
    members: [
      {
        member: { ID: "18446744073709551615", name: "a", peerURLs: ["http://p:2380"] },
        status: {
          header: { cluster_id: "7", member_id: "18446744073709551615", revision: "9" },
          version: "3.5.0",
          dbSize: "24576",
          leader: "18446744073709551615",
          raftIndex: "12",
          raftTerm: "3",
          raftAppliedIndex: "12",
          dbSizeInUse: "20480",
          errors: ["memberID:1 alarm:NOSPACE "],
        },
      },
      {
        member: { ID: "2", isLearner: true },
        error: { code: 4, message: "no answer within 1500 ms" },
      },
    ],
  });
  assert.equal(parsed.length, 2);
  const [a, b] = parsed;
  assert.equal(a.id, 0xffffffffffffffffn);
  assert.equal(a.name, "a");
  assert.deepEqual(a.clientURLs, []);
  assert.equal(a.status?.leader, a.id);
  assert.equal(a.status?.raftTerm, 3n);
  assert.equal(a.status?.dbSize, 24576);
  assert.equal(a.status?.isLearner, false);
  assert.deepEqual(a.status?.errors, ["memberID:1 alarm:NOSPACE "]);
  assert.equal(a.error, undefined);
  assert.equal(b.isLearner, true);
  assert.equal(b.status, undefined);
  assert.deepEqual(b.error, { code: 4, message: "no answer within 1500 ms" });
});

Deno.test("members status: an answer not of the endpoint's shape is refused, not filled in", () => {
  assert.throws(() => parseMembersStatus({}), /no members list/);
  assert.throws(() => parseMembersStatus({ members: [{ member: { ID: "1" } }] }), /error/);
  assert.throws(
    () =>
      parseMembersStatus({
        members: [{ member: { ID: "1" }, status: { header: { member_id: "2" } } }],
      }),
    /status of another member/,
  );
  assert.throws(
    () => parseMembersStatus({ members: [{ member: { ID: "x" }, error: { code: 1 } }] }),
    /ID is not an integer/,
  );
});
