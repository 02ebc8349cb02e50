/**
 * The watch checker fails on what it must catch: a lost event (a gap), a repeated one, a
 * wrong value, events before the requested start, a live watcher that stopped short, and a
 * progress notification ahead of an event it should follow (or behind one it should precede).
 */
import assert from "node:assert/strict";
import { checkProgress, checkWatch, type EventText, type WatchRecord } from "./watch_check.ts";

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

Deno.test("watch check: a progress notification ahead of its events, or behind, fails", () => {
  const w = record(2, [[[2, "PUT b=1@2"]], [[3, "DELETE a@3"], [4, "PUT a=2@4"]]]);
  const at = (progress: { rev: number; after: number }[]) => ({ ...w, progress });
  // after the first response (rev 2) a progress at 2 is right, and at 4 after both
  assert.deepEqual(checkProgress(at([{ rev: 2, after: 1 }, { rev: 4, after: 2 }]), ref), []);
  assert.deepEqual(checkProgress(at([{ rev: 1, after: 0 }]), ref), [], "nothing due below 2");
  // at 3 after only rev 2 arrived: the delete at 3 was not delivered yet
  assert.match(
    checkProgress(at([{ rev: 3, after: 1 }]), ref).join("\n"),
    /progress notification at rev 3 before the event at rev 3/,
  );
  // at 3, then the response with rev 3 follows it
  assert.match(
    checkProgress(at([{ rev: 3, after: 1 }]), ref).join("\n"),
    /event at rev 3 after a progress notification at rev 3/,
  );
  assert.match(
    checkProgress(at([{ rev: 4, after: 2 }, { rev: 2, after: 2 }]), ref).join("\n"),
    /progress at rev 2 after one at 4/,
  );
});
