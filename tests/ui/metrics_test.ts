/// <reference lib="dom" />
/**
 * The console's Metrics page in Chromium against a real member: the charts fill from
 * /metrics (db size at once; requests per second and p99 latency once two readings apart
 * have seen requests; latency needs --metrics extensive, as etcd's histogram does), and a
 * figure the member does not export says so by name.
 */
import assert from "node:assert/strict";
import { waitForText, withConsole } from "./console_browser.ts";

Deno.test("console metrics: live charts from /metrics", async () => {
  await withConsole(
    "metrics",
    async ({ server, page }) => {
      await waitForText(page, '[data-chart="db"] .value', /\d+(\.\d)? (B|kB|MB)/);
      // requests the console itself does not make (etcdctl's) until both charts have seen some
      const seen = (id: string) =>
        page.$eval(`[data-chart="${id}"]`, (e) => Number(e.getAttribute("data-max") || "0") > 0);
      const deadline = Date.now() + 15_000;
      for (let i = 0; !(await seen("requests") && await seen("latency")); i++) {
        assert.ok(Date.now() < deadline, "no request rate or latency charted in 15 s");
        await server.ok(["put", `m/${i}`, "x"]);
      }
      const paths = await page.$$eval('[data-chart="requests"] svg path', (p) => p.length);
      assert.equal(paths, 1);
      // every chart shows either a value or which metric is missing
      for (const id of ["watchers", "fsync"]) {
        const text = await page.$eval(`[data-chart="${id}"]`, (e) => e.textContent ?? "");
        assert.match(text, /\d|not exported|lately/, `${id}: ${text}`);
      }
    },
    { hash: "metrics" },
    (c) => {
      // p99 latency is drawn from grpc_server_handling_seconds, which etcd (and Concord) export
      // only with --metrics extensive
      c.metrics = "extensive";
    },
  );
});

Deno.test("console metrics: with --metrics basic the latency chart names the missing metric", async () => {
  await withConsole("metrics-basic", async ({ page }) => {
    await waitForText(page, '[data-chart="latency"]', /grpc_server_handling_seconds: not exported/);
  }, { hash: "metrics" });
});
