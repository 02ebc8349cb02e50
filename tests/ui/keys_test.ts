/// <reference lib="dom" />
/**
 * The console's Keys page in Chromium against a real member: a key put through the form
 * shows in the list and in etcdctl; its value shows as text, JSON and hex; a
 * compare-and-swap edit saves, and is refused after a concurrent etcdctl put; history lists
 * the versions and says plainly when older ones were compacted; delete removes it; pages of
 * 50 keys are walked with Next and Previous.
 */
import assert from "node:assert/strict";
import {
  runSteps,
  type Step,
  typeInto,
  waitForGone,
  waitForText,
  withConsole,
} from "./console_browser.ts";

const steps: Step[] = [];

steps.push(["put through the form, view, CAS edit, history, delete", async (browser) => {
  await withConsole("keys put view edit", async ({ server, page }) => {
    await typeInto(page, "#put input[name=key]", "ui/conf");
    await typeInto(page, "#put textarea[name=value]", '{"a":1,"b":[true]}');
    await page.click("#put button[type=submit]");
    await waitForText(page, '#keys tr[data-key="ui/conf"]', "ui/conf");
    await waitForText(page, ".keys > .notice.ok", "Put “ui/conf” at revision");
    assert.equal(await server.ok(["get", "ui/conf", "--print-value-only"]), '{"a":1,"b":[true]}\n');

    // the put opened the key view: text, then JSON and hex views
    await waitForText(page, "#key-view pre.value", '{"a":1,"b":[true]}');
    await page.click("#key-view button[name=view-json]");
    await waitForText(page, "#key-view pre.value", '{\n  "a": 1,\n  "b": [\n    true');
    await page.click("#key-view button[name=view-hex]");
    await waitForText(page, "#key-view pre.value", "00000000  7b 22 61 22");
    const version = await waitForText(page, '#key-view [data-fact="version"]', "1");
    assert.equal(version, "1");

    // a compare-and-swap edit on the mod revision shown
    await page.click("#key-view button[name=edit]");
    await typeInto(page, "#edit textarea", "v2");
    await page.click("#edit button[type=submit]");
    await waitForText(page, "#key-view .notice.ok", "Saved at revision");
    assert.equal(await server.ok(["get", "ui/conf", "--print-value-only"]), "v2\n");

    // refused when the key changed meanwhile (by etcdctl)
    await page.click("#key-view button[name=view-text]");
    await page.click("#key-view button[name=edit]");
    await server.ok(["put", "ui/conf", "v3"]);
    await typeInto(page, "#edit textarea", "lost update");
    await page.click("#edit button[type=submit]");
    await waitForText(page, "#key-view .notice.error", "Not saved: the key changed");
    await waitForText(page, "#key-view pre.value", "v3");
    assert.equal(await server.ok(["get", "ui/conf", "--print-value-only"]), "v3\n");

    // history: three versions back to the creation
    await page.click("#key-view button[name=history]");
    await waitForText(page, '#key-view [data-history="status"]', "Created at revision");
    const values = await page.$$eval(
      "#key-view table.history tbody tr td:nth-child(3)",
      (tds) => tds.map((td) => td.textContent),
    );
    assert.deepEqual(values, ["v3", "v2", '{"a":1,"b":[true]}']);

    // after a compaction the older versions are gone, and the page says so
    await server.ok(["put", "ui/conf", "v4"]);
    const rev = JSON.parse(await server.ok(["get", "ui/conf", "-w", "json"])).header.revision;
    await server.ok(["compaction", String(rev)]);
    await page.click('#keys tr[data-key="ui/conf"] button');
    await waitForText(page, "#key-view pre.value", "v4");
    await page.click("#key-view button[name=history]");
    await waitForText(
      page,
      '#key-view [data-history="status"]',
      "Older versions were compacted away: etcdserver: mvcc: required revision has been " +
        "compacted (OutOfRange).",
    );

    // delete
    await page.click("#key-view button[name=delete]");
    await waitForGone(page, '#keys tr[data-key="ui/conf"]');
    await waitForText(page, ".keys > .notice.ok", "Deleted “ui/conf” at revision");
    assert.equal(await server.ok(["get", "ui/conf"]), "");
  }, { browser });
}]);

steps.push(["a prefix is browsed 50 keys a page", async (browser) => {
  await withConsole("keys pages", async ({ page }) => {
    await typeInto(page, "#browse input[name=prefix]", "p/");
    await page.click("#browse button[type=submit]");
    await waitForText(page, ".keys .summary", "Keys 1–50 of 70 under “p/”");
    const first = await page.$$eval(
      "#keys tbody tr",
      (trs) => trs.map((t) => t.getAttribute("data-key")),
    );
    assert.equal(first.length, 50);
    assert.equal(first[0], "p/00");
    assert.equal(first[49], "p/49");
    await page.click("button[name=next]");
    await waitForText(page, ".keys .summary", "Keys 51–70 of 70 under “p/”");
    const second = await page.$$eval(
      "#keys tbody tr",
      (trs) => trs.map((t) => t.getAttribute("data-key")),
    );
    assert.deepEqual(second, Array.from({ length: 20 }, (_, i) => `p/${50 + i}`));
    assert.equal(
      await page.$eval("button[name=next]", (b) => (b as HTMLButtonElement).disabled),
      true,
    );
    await page.click("button[name=prev]");
    await waitForText(page, ".keys .summary", "Keys 1–50 of 70");
  }, {
    browser,
    prepare: async (s) => {
      // one txn of 70 puts (etcdctl's txn reads them from stdin)
      const puts = Array.from({ length: 70 }, (_, i) => `put p/${String(i).padStart(2, "0")} x`);
      await s.ok(["txn"], `\n${puts.join("\n")}\n\n\n`);
      await s.ok(["put", "q/other", "y"]);
    },
  });
}]);

Deno.test("console keys", (t) => runSteps(t, steps));
