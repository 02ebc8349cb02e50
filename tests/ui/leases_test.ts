/// <reference lib="dom" />
/**
 * The console's Leases page in Chromium against a real member: a lease granted through the
 * form is listed with its TTL counting down; a key attached to it through the page shows
 * among its keys (and etcdctl sees the lease on the key); revoking it removes the lease and
 * the key, which vanishes from the Keys page too.
 */
import assert from "node:assert/strict";
import { typeInto, waitForGone, waitForText, withConsole } from "./console_browser.ts";

Deno.test("console leases: grant, attach a key, count down, revoke: the key vanishes", async () => {
  await withConsole("leases", async ({ server, page }) => {
    await typeInto(page, "#grant input[name=ttl]", "120");
    await page.click("#grant button[type=submit]");
    const granted = await waitForText(page, ".leases .notice.ok", "Granted lease");
    const hex = /Granted lease ([0-9a-f]+) with a TTL of 120 s/.exec(granted)?.[1];
    assert.ok(hex, granted);
    const row = `#leases tr[data-lease="${hex}"]`;
    await waitForText(page, `${row} [data-keys]`, "none");
    assert.match(await server.ok(["lease", "list"]), new RegExp(hex));

    await typeInto(page, `${row} form.attach input[name=key]`, "l/k");
    await typeInto(page, `${row} form.attach input[name=value]`, "held");
    await page.click(`${row} form.attach button[type=submit]`);
    await waitForText(page, `${row} [data-keys]`, "l/k");
    // the lease id as etcdctl's JSON has it (an int64 JSON.parse would round)
    const lease = /"lease":(\d+)/.exec(await server.ok(["get", "l/k", "-w", "json"]))?.[1];
    assert.equal(BigInt(lease ?? 0).toString(16), hex);

    // the remaining TTL counts down from at most 120 s
    const first = Number((await waitForText(page, `${row} [data-remaining]`, " s")).split(" ")[0]);
    assert.ok(first <= 120 && first > 60, String(first));
    await page.waitForFunction(
      (sel: string, n: number) =>
        Number(document.querySelector(sel)?.textContent?.split(" ")[0]) < n,
      { timeout: 5000, polling: 100 },
      `${row} [data-remaining]`,
      first,
    );

    // the key is listed on the Keys page while the lease lives
    await page.goto(`${server.url}/ui/#keys`);
    await waitForText(page, '#keys tr[data-key="l/k"]', hex);
    await page.goto(`${server.url}/ui/#leases`);
    await page.click(`${row} button[name=revoke]`);
    await waitForGone(page, row);
    assert.equal(await server.ok(["get", "l/k"]), "");
    await page.goto(`${server.url}/ui/#keys`);
    await waitForText(page, ".keys .summary", "No keys");
    assert.equal(await page.$('#keys tr[data-key="l/k"]'), null);
  }, { hash: "leases" });
});
