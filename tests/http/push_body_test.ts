import assert from "node:assert/strict";
import { PushBody } from "../../lib/http/push_body.ts";

const bytes = (...xs: number[]) => new Uint8Array(xs);

Deno.test("push body: a chunk pushed while the consumer waits goes to its direct writer", async () => {
  const b = new PushBody();
  const direct: number[] = [];
  b.direct = (c) => {
    direct.push(c[0]);
    return true;
  };
  // nobody waits yet: queued, and the producer is told to wait for room
  assert.deepEqual(b.push(bytes(1)), false);
  assert.deepEqual((await b.next()).value, bytes(1));
  let room = 0;
  b.onRoom = () => room++;
  const pending = b.next(); // the consumer is idle now: the backlog is gone
  assert.deepEqual(room, 1);
  assert.deepEqual(b.push(bytes(2)), true);
  assert.deepEqual(b.push(bytes(3)), true);
  assert.deepEqual(direct, [2, 3]);
  b.end();
  assert.deepEqual(await pending, { done: true, value: undefined });
});

Deno.test("push body: a chunk the direct writer declines is handed to the waiting consumer", async () => {
  const b = new PushBody();
  b.direct = () => false;
  const pending = b.next();
  assert.deepEqual(b.push(bytes(7)), true);
  assert.deepEqual((await pending).value, bytes(7));
  // the consumer is busy with it: more is queued, in order, and room is asked for
  let room = 0;
  b.onRoom = () => room++;
  assert.deepEqual(b.push(bytes(8)), false);
  assert.deepEqual(b.push(bytes(9)), false);
  assert.deepEqual((await b.next()).value, bytes(8));
  assert.deepEqual((await b.next()).value, bytes(9));
  assert.deepEqual(room, 0);
  const idle = b.next();
  assert.deepEqual(room, 1);
  b.end();
  assert.ok((await idle).done);
});

Deno.test("push body: the end and a failure come after the queued chunks", async () => {
  const b = new PushBody();
  b.push(bytes(1));
  b.end();
  assert.deepEqual(b.push(bytes(2)), false);
  assert.deepEqual((await b.next()).value, bytes(1));
  assert.ok((await b.next()).done);

  const f = new PushBody();
  f.push(bytes(1));
  f.fail(new Error("boom"));
  assert.deepEqual((await f.next()).value, bytes(1));
  await assert.rejects(() => f.next(), { message: "boom" });
  const g = new PushBody();
  const waiting = g.next();
  g.fail(new Error("late"));
  await assert.rejects(() => waiting, { message: "late" });
});

Deno.test("push body: a consumer that returns drops the backlog and tells the producer once", async () => {
  const b = new PushBody();
  let returned = 0;
  b.onReturn = () => returned++;
  b.direct = () => true;
  b.push(bytes(1));
  const waiting = b.next(); // takes the queued chunk at once
  assert.deepEqual((await waiting).value, bytes(1));
  b.push(bytes(2));
  await b.return();
  await b.return();
  assert.deepEqual(returned, 1);
  assert.ok(b.returned);
  assert.deepEqual(b.push(bytes(3)), false);
  assert.ok((await b.next()).done);
  // a body that ended first is not abandoned by its consumer's return
  const e = new PushBody();
  let told = 0;
  e.onReturn = () => told++;
  e.end();
  await e.return();
  assert.deepEqual(told, 0);
});
