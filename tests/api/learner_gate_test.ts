/**
 * The learner gate (etcd's isRPCSupportedForLearner): on a learner every streaming call and
 * every unary call but Status and a serializable Range fails with etcd's "rpc not supported
 * for learner"; on a voter the implementation's own stream is handed back, with no wrapper.
 * The member is reduced to what the gate reads of it (its id and its membership entry).
 */
import assert from "node:assert/strict";
import type { HandlerContext } from "@connectrpc/connect";
import { Errors } from "../../lib/base/errors.ts";
import type { Member } from "../../lib/server/member.ts";
import { learnerGate } from "../../lib/api/learner_gate.ts";
import type { EtcdServices } from "../../lib/api/services.ts";

type Fn = (req: unknown, ctx: unknown) => unknown;

function memberAs(learner: { isLearner: boolean }): Member {
  return {
    id: 1n,
    membership: { get: (id: bigint) => id === 1n ? learner : undefined },
  } as unknown as Member;
}

Deno.test("learner gate: streams refused on a learner, handed through on a voter", async () => {
  const role = { isLearner: true };
  const stream = (async function* () {
    yield "event";
  })();
  const services = {
    lease: {},
    cluster: {},
    auth: {},
    lock: {},
    election: {},
    watch: { watch: () => stream },
    kv: { range: (req: unknown) => Promise.resolve(req), put: () => Promise.resolve("put") },
    maintenance: { status: () => Promise.resolve("status") },
  } as unknown as EtcdServices;
  const gated = learnerGate(memberAs(role), services);
  const watch = (gated.watch as unknown as Record<string, Fn>).watch;
  const kv = gated.kv as unknown as Record<string, Fn>;
  const status = (gated.maintenance as unknown as Record<string, Fn>).status;
  const ctx = {} as HandlerContext;

  // a learner
  const refused = watch(undefined, ctx) as AsyncIterator<unknown>;
  assert.notEqual(refused, stream);
  await assert.rejects(refused.next(), (e) => Errors.notSupportedForLearner.is(e));
  await assert.rejects(
    kv.put({}, ctx) as Promise<unknown>,
    (e) => Errors.notSupportedForLearner.is(e),
  );
  await assert.rejects(
    kv.range({ serializable: false }, ctx) as Promise<unknown>,
    (e) => Errors.notSupportedForLearner.is(e),
  );
  assert.deepEqual(await kv.range({ serializable: true }, ctx), { serializable: true });
  assert.equal(await status({}, ctx), "status");

  // promoted: the same calls go through, the stream unwrapped
  role.isLearner = false;
  assert.equal(watch(undefined, ctx), stream);
  assert.deepEqual(await (stream.next()), { done: false, value: "event" });
  assert.equal(await kv.put({}, ctx), "put");
});
