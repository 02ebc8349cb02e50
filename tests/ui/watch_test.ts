/// <reference lib="dom" />
/**
 * The console's Watch page in Chromium against a real member: events from concurrent puts
 * and deletes by the real etcdctl appear with their revision and type; a paused watch shows
 * nothing new until resumed, then everything in order; a watch from a compacted revision
 * says so plainly.
 */
import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { runSteps, type Step, typeInto, waitForText, withConsole } from "./console_browser.ts";

/** The events table, newest first: [revision, type, key, value]. */
function events(page: Page): Promise<string[][]> {
  return page.$$eval(
    "#events tbody tr",
    (trs) => trs.map((tr) => Array.from(tr.children, (td) => td.textContent ?? "")),
  );
}

/** The revision etcdctl's put landed at. */
async function putRev(ok: (a: string[]) => Promise<string>, k: string, v: string) {
  return String(JSON.parse(await ok(["put", k, v, "-w", "json"])).header.revision);
}

const steps: Step[] = [];

steps.push(["etcdctl's puts and deletes appear live; pause holds them back", async (browser) => {
  await withConsole(
    "watch",
    async ({ server, page }) => {
      await typeInto(page, "#watch-form input[name=prefix]", "w/");
      await page.click("#watch-form button[type=submit]");
      await waitForText(page, '[data-watch="status"]', "Watching keys under “w/”: 0 events");

      const r1 = await putRev((a) => server.ok(a), "w/a", "1");
      await server.ok(["put", "other", "x"]);
      await waitForText(page, '#events tr[data-key="w/a"]', "PUT");
      await server.ok(["del", "w/a"]);
      await waitForText(page, "#events tr.delete", "DELETE");
      const shown = await events(page);
      assert.deepEqual(shown[1], [r1, "PUT", "w/a", "1"]);
      assert.equal(shown[0][1], "DELETE");
      assert.equal(Number(shown[0][0]), Number(r1) + 2);
      assert.equal(shown.length, 2);

      // paused: the status says so; on resume the events held back arrive in order
      await page.click("button[name=pause]");
      await waitForText(page, '[data-watch="status"]', "paused");
      const r2 = await putRev((a) => server.ok(a), "w/b", "2");
      const r3 = await putRev((a) => server.ok(a), "w/c", "3");
      assert.equal((await events(page)).length, 2);
      await page.click("button[name=pause]");
      await waitForText(page, '#events tr[data-key="w/c"]', "w/c");
      const after = await events(page);
      assert.deepEqual(after.slice(0, 2), [[r3, "PUT", "w/c", "3"], [r2, "PUT", "w/b", "2"]]);
      await page.click("button[name=stop]");
      await waitForText(page, '[data-watch="status"]', "Stopped. 4 events seen.");
    },
    { hash: "watch", browser },
    (c) => {
      // CORS restricted to another origin: the console, on the member's own, is unaffected
      c.corsOrigins = ["https://elsewhere.example"];
    },
  );
}]);

steps.push(["replaying from a compacted revision shows the compaction error", async (browser) => {
  await withConsole("watch compacted", async ({ server, page }) => {
    await server.ok(["put", "c/a", "1"]);
    const rev = await putRev((a) => server.ok(a), "c/a", "2");
    await server.ok(["compaction", rev]);
    await typeInto(page, "#watch-form input[name=prefix]", "c/");
    await typeInto(page, "#watch-form input[name=rev]", "1");
    await page.click("#watch-form button[type=submit]");
    await waitForText(
      page,
      ".watch .notice.error",
      `etcdserver: mvcc: required revision has been compacted: history from revision ${rev} ` +
        "on is still available",
    );
    // from the compaction revision on, the history replays
    await typeInto(page, "#watch-form input[name=rev]", rev);
    await page.click("#watch-form button[type=submit]");
    await waitForText(page, '#events tr[data-key="c/a"]', "2");
  }, { hash: "watch", browser });
}]);

Deno.test("console watch", (t) => runSteps(t, steps));
