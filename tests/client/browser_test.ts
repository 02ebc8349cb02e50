/**
 * The client in a real browser: lib/client/browser.ts bundled into a page served from its own
 * origin, run by headless Chromium (Debian's, over CDP with puppeteer-core: the setup of
 * tests/api/browser/) against a Concord member allowing that origin (--cors): KV, a missing
 * key, txn, watch, lease and an error with etcd's code and message, over gRPC-web.
 */
import assert from "node:assert/strict";
import { startTestServer } from "../server/harness.ts";
import { bundleForBrowser, launchChromium, openPage, servePage } from "../api/browser/chromium.ts";
import type { PageReport } from "./browser/client_page.ts";

Deno.test("browser: the client bundled for the browser works from a page in Chromium", async () => {
  const script = await bundleForBrowser("tests/client/browser/client_page.ts");
  const page0 = await servePage(script);
  const s = await startTestServer((c) => {
    c.corsOrigins = [page0.origin];
    c.heartbeatIntervalMs = 10;
    c.electionTimeoutMs = 100;
  });
  const browser = await launchChromium();
  try {
    const page = await openPage(browser, page0.origin);
    const report = await page.evaluate(
      (url) =>
        (globalThis as unknown as { concord: { run(u: string): Promise<PageReport> } })
          .concord.run(url),
      s.url,
    );
    assert.deepEqual(report, {
      get: "1",
      missing: true,
      txn: true,
      range: ["br/a", "br/b"],
      watched: ["br/a=1", "br/b=2"],
      ttl: 30,
      leaseKeys: ["br/l"],
      error: { code: 3, message: "etcdserver: key is not provided", isEmptyKey: true },
    });
  } finally {
    await browser.close();
    await s.close();
    await page0.close();
  }
});
