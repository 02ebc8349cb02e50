/**
 * The watch checker fails on what it must catch: a lost event (a gap), a repeated one, a
 * wrong value, events before the requested start, and a live watcher that stopped short.
 */
import assert from "node:assert/strict";
import { checkWatch, type EventText, type WatchRecord } from "./watch_check.ts";

const ref = new Map<number, EventText[]>([
  [1, ["PUT a=1@1"]],
  [2, ["PUT b=1@2"]],
  [3, ["DELETE a@3"]],
  [4, ["PUT a=2@4"]],
]);

function record(
  startRev: number,
  revs: [number, string][][],
): Pick<WatchRecord, "name" | "startRev" | "responses"> {
  return {
    name: "w",
    startRev,
    responses: revs.map((evs) => ({
      rev: evs.at(-1)![0],
      events: evs.map(([rev, text]) => ({ rev, text })),
    })),
  };
}

Deno.test("watch check: the whole history from a past revision passes", () => {
  const w = record(2, [[[2, "PUT b=1@2"]], [[3, "DELETE a@3"], [4, "PUT a=2@4"]]]);
  assert.deepEqual(checkWatch(w, ref, 4), []);
  assert.deepEqual(checkWatch(record(5, []), ref, 4), []);
});

Deno.test("watch check: a gap, a duplicate, a wrong value, an early event and a short watcher fail", () => {
  const gap = record(1, [[[1, "PUT a=1@1"]], [[3, "DELETE a@3"]]]);
  assert.match(checkWatch(gap, ref, 0).join("\n"), /at rev 2 got \[\]/);
  const dup = record(1, [[[1, "PUT a=1@1"]], [[1, "PUT a=1@1"]], [[2, "PUT b=1@2"]]]);
  assert.match(checkWatch(dup, ref, 0).join("\n"), /ordered, unique/);
  const wrong = record(4, [[[4, "PUT a=3@4"]]]);
  assert.match(checkWatch(wrong, ref, 0).join("\n"), /the history has/);
  const early = record(3, [[[2, "PUT b=1@2"]], [[3, "DELETE a@3"]]]);
  assert.match(checkWatch(early, ref, 0).join("\n"), /before its start rev/);
  const short = record(3, [[[3, "DELETE a@3"]]]);
  assert.deepEqual(checkWatch(short, ref, 0), [], "an ended watcher may stop early");
  assert.match(checkWatch(short, ref, 4).join("\n"), /at rev 4 got \[\]/);
});
