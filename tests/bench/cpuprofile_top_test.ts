/** bench/cpuprofile_top.ts: shares of busy samples by function and file, idle apart. */
import assert from "node:assert/strict";
import { summarize } from "../../bench/cpuprofile_top.ts";

Deno.test("summarize: self time per function and per file, idle left out of the shares", () => {
  const frame = (functionName: string, url: string, lineNumber = 0) => ({
    functionName,
    url,
    lineNumber,
  });
  const s = summarize({
    nodes: [
      { id: 1, callFrame: frame("(idle)", "") },
      { id: 2, callFrame: frame("put", "file:///w/x/lib/mvcc/store.ts", 9) },
      { id: 3, callFrame: frame("range", "file:///w/x/lib/mvcc/store.ts", 40) },
      { id: 4, callFrame: frame("(garbage collector)", "") },
    ],
    samples: [1, 1, 1, 1, 2, 2, 3, 4],
    timeDeltas: [1, 1, 1, 1, 1, 1, 1, 1],
  });
  assert.equal(s.idle, 0.5);
  assert.deepEqual(s.files, [
    { label: "lib/mvcc/store.ts", share: 0.75 },
    { label: "(garbage collector)", share: 0.25 },
  ]);
  assert.deepEqual(s.functions[0], { label: "put lib/mvcc/store.ts:10", share: 0.5 });
  assert.throws(
    () => summarize({ nodes: [], samples: [7], timeDeltas: [1] }),
    /sample names node 7/,
  );
});
