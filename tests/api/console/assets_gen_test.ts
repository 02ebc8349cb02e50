/**
 * The committed console build is never stale: lib/api/console/assets_gen.ts must be exactly
 * what `deno task console:build` makes from lib/ui/ now. If this fails, run that task and
 * commit the file it writes.
 */
import assert from "node:assert/strict";
import { ASSETS_MODULE, buildAssetsModule } from "../../../lib/ui/build.ts";

Deno.test("console assets: the committed assets_gen.ts equals a fresh build of lib/ui/", async () => {
  const root = new URL("../../../", import.meta.url).pathname;
  const committed = await Deno.readTextFile(root + ASSETS_MODULE);
  const fresh = await buildAssetsModule();
  // assert.equal would print 200 kB of both: say where they part instead
  if (committed !== fresh) {
    let i = 0;
    while (i < committed.length && committed[i] === fresh[i]) i++;
    assert.fail(
      `${ASSETS_MODULE} is stale (differs from a fresh build at offset ${i}: ` +
        `${JSON.stringify(committed.slice(i, i + 60))} vs ${
          JSON.stringify(fresh.slice(i, i + 60))
        }); ` +
        "run `deno task console:build` and commit it",
    );
  }
});
