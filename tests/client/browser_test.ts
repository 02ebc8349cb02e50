/**
 * The client in a real browser: lib/client/browser.ts bundled into a page served from its own
 * origin, run by headless Chromium (Debian's, over CDP with puppeteer-core: the setup of
 * tests/api/browser/) against a Concord member allowing that origin (--cors): KV, a missing
 * key, txn, watch, lease and an error with etcd's code and message, over gRPC-web; and a
 * watch the page cancels (with the client, or by aborting a fetch of its own) leaves the
 * member.
 */
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { startTestServer, type TestServer, waitFor } from "../server/harness.ts";
import { WatchRequestSchema } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { bundleForBrowser, launchChromium, openPage, servePage } from "../api/browser/chromium.ts";
import type { PageApi } from "./browser/client_page.ts";

/** A gRPC-web watch request body: one framed create request for `key`. */
function framedCreate(key: string): number[] {
  const msg = toBinary(
    WatchRequestSchema,
    create(WatchRequestSchema, {
      requestUnion: { case: "createRequest", value: { key: new TextEncoder().encode(key) } },
    }),
  );
  const body = new Uint8Array(5 + msg.length);
  new DataView(body.buffer).setUint32(1, msg.length);
  body.set(msg, 5);
  return [...body];
}

/** Waits until the member serves no watch stream. */
function noWatchStreams(s: TestServer, what: string): Promise<void> {
  return waitFor(what, () => Promise.resolve(s.server.member.hub.streamCount === 0), 5000);
}

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
      (url) => (globalThis as unknown as { concord: PageApi }).concord.run(url),
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

    // a cancelled watch leaves the member while its client stays open
    await noWatchStreams(s, "the member dropping the page's watch after its client closed");
    await page.evaluate(
      (url) => (globalThis as unknown as { concord: PageApi }).concord.watchThenCancel(url),
      s.url,
    );
    await noWatchStreams(s, "the member dropping the watch the page cancelled");
    await page.evaluate(() => (globalThis as unknown as { concord: PageApi }).concord.closeHeld());

    // and so does a watch whose fetch Chromium aborts, without the client
    const failure = await page.evaluate(
      (url, body) =>
        (globalThis as unknown as { concord: PageApi }).concord.abortedFetch(url, body),
      s.url,
      framedCreate("aborted"),
    );
    assert.equal(failure, "AbortError");
    await noWatchStreams(s, "the member dropping the watch whose fetch Chromium aborted");
  } finally {
    await browser.close();
    await s.close();
    await page0.close();
  }
});
