import assert from "node:assert/strict";
import { run } from "../main.ts";

Deno.test("concord help and version exit 0; an unknown command exits 2", async () => {
  assert.equal(await run(["--help"]), 0);
  assert.equal(await run(["version"]), 0);
  assert.equal(await run(["frobnicate"]), 2);
});
