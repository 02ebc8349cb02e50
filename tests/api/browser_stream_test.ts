/**
 * Streaming RPCs from a real browser: headless Chromium on a page served from another origin
 * calls a member with connect-web's Connect (JSON) and gRPC-web (binary) transports, over
 * HTTP/1.1 cleartext and over HTTP/2 with TLS (the protocol each response came over is read
 * from the browser, over CDP). Watch (half-duplex: one create request, then events), election
 * Observe and Snapshot (server streams) and LeaseKeepAlive (half-duplex); aborting a watch's
 * fetch in the page must end the call on the server (the member's watcher count drops).
 *
 * TLS: the member's certificate is signed by a throwaway test CA; Chromium is told to accept
 * that certificate's public key alone (--ignore-certificate-errors-spki-list), not every
 * certificate error.
 */
import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { KV, Lease } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { Election } from "../../proto/gen/v3electionpb/v3election_pb.ts";
import { makePki } from "../http/mtls_pki.ts";
import { startTestServer, waitFor } from "../server/harness.ts";
import {
  bundleForBrowser,
  launchChromium,
  openPage,
  servePage,
  spkiDigest,
} from "./browser/chromium.ts";
import type { PageApi, PageEvent, Protocol } from "./browser/stream_page.ts";

const enc = (s: string) => new TextEncoder().encode(s);

/** A typed call of the page's API. */
type PageCall = <K extends keyof PageApi>(
  name: K,
  ...args: Parameters<PageApi[K]>
) => Promise<Awaited<ReturnType<PageApi[K]>>>;

/** Calls `globalThis.concord[name](...args)` in `page`. */
function pageCall(page: Page): PageCall {
  return (name, ...args) =>
    page.evaluate(
      (n, a) => {
        const api = (globalThis as unknown as {
          concord: Record<string, (...a: unknown[]) => unknown>;
        }).concord;
        return api[n](...a);
      },
      name,
      args,
    ) as never;
}

Deno.test("browser streams: watch, observe, snapshot, keep-alive over Connect and gRPC-web, HTTP/1.1 and HTTP/2+TLS; --cors", async (t) => {
  const pki = await makePki({});
  const script = await bundleForBrowser("tests/api/browser/stream_page.ts");
  const page0 = await servePage(script);
  const stranger = await servePage(script);
  const s = await startTestServer((c) => {
    c.corsOrigins = [page0.origin]; // as --cors: the test page's origin alone
    c.heartbeatIntervalMs = 10;
    c.electionTimeoutMs = 100;
    c.listenClientUrls = [new URL("http://127.0.0.1:0"), new URL("https://127.0.0.1:0")];
    c.tls.certFile = pki.server.cert;
    c.tls.keyFile = pki.server.key;
  });
  const [plainUrl, tlsUrl] = s.server.clientUrls;
  const browser = await launchChromium({ trustSpki: [await spkiDigest(pki.server.key)] });
  try {
    const page = await openPage(browser, page0.origin);
    // The protocol of every API response, as the browser's network stack reports it.
    const protocols = new Map<string, Set<string>>();
    const cdp = await page.createCDPSession();
    await cdp.send("Network.enable");
    cdp.on("Network.responseReceived", (e) => {
      const base = new URL(e.response.url).origin;
      if (!protocols.has(base)) protocols.set(base, new Set());
      protocols.get(base)?.add(e.response.protocol ?? "?");
    });
    const call = pageCall(page);

    // The test's own writes go over Connect on Deno's fetch.
    const rpc = createConnectTransport({ baseUrl: plainUrl });
    const kv = createClient(KV, rpc);
    const lease = createClient(Lease, rpc);
    const election = createClient(Election, rpc);
    const watchers = () => {
      const c = s.server.member.hub.counts();
      return c.synced + c.unsynced + c.victims;
    };

    const cases: { protocol: Protocol; url: string; http: string }[] = [
      { protocol: "connect", url: plainUrl, http: "http/1.1" },
      { protocol: "grpc-web", url: plainUrl, http: "http/1.1" },
      { protocol: "connect", url: tlsUrl, http: "h2" },
      { protocol: "grpc-web", url: tlsUrl, http: "h2" },
    ];
    for (const [i, c] of cases.entries()) {
      await t.step(`${c.protocol} over ${c.http}`, async () => {
        // Watch: created, then events in order, then cancelled from the page.
        const prefix = `w${i}/`;
        const before = watchers();
        await call("watchStart", `watch${i}`, c.url, c.protocol, prefix);
        assert.equal(watchers(), before + 1);
        const want: PageEvent[] = [];
        for (let k = 0; k < 5; k++) {
          const key = `${prefix}k${k % 3}`;
          const r = await kv.put({ key: enc(key), value: enc(`v${k}`) });
          want.push({
            type: "PUT",
            key,
            value: `v${k}`,
            modRevision: String(r.header?.revision),
          });
        }
        await kv.put({ key: enc(`not-${prefix}`), value: enc("x") }); // outside the range
        assert.deepEqual(await call("items", `watch${i}`, 5, 5000), want);
        const ended = await call("cancel", `watch${i}`);
        assert.match(ended, /^code 1: /, "the client sees its own cancel (Canceled)");
        await waitFor(
          "the server to drop the cancelled watch",
          () => Promise.resolve(watchers() === before),
          5000,
        );

        // Observe: the leader's value, then a proclaimed one; cancelled from the page.
        const name = `e${i}`;
        const { ID } = await lease.leaseGrant({ TTL: 60n });
        const { leader } = await election.campaign({ name: enc(name), lease: ID, value: enc("a") });
        await call("observeStart", `observe${i}`, c.url, c.protocol, name);
        await election.proclaim({ leader, value: enc("b") });
        assert.deepEqual(await call("items", `observe${i}`, 2, 5000), ["a", "b"]);
        assert.match(await call("cancel", `observe${i}`), /^code 1: /);

        // LeaseKeepAlive, half-duplex: one request, its answer, then the call ends.
        assert.deepEqual(await call("keepAlive", c.url, c.protocol, String(ID)), [
          { id: String(ID), ttl: "60" },
        ]);
        await lease.leaseRevoke({ ID });

        // Snapshot: the whole page file and its SHA-256.
        const snap = await call("snapshot", c.url, c.protocol);
        assert.ok(snap.size > 32 && snap.checksumOk, JSON.stringify(snap));
      });
    }
    assert.deepEqual([...protocols.get(plainUrl) ?? []], ["http/1.1"]);
    assert.deepEqual([...protocols.get(tlsUrl) ?? []], ["h2"]);
    await cdp.detach();

    await t.step("a page from an origin --cors does not list is refused", async () => {
      const refused = pageCall(await openPage(browser, stranger.origin));
      for (const c of cases) {
        await assert.rejects(
          refused("watchStart", "w", c.url, c.protocol, "k/"),
          /stream ended before it was ready: code \d+: .*[Ff]ailed to fetch/,
        );
      }
      assert.equal(watchers(), 0);
    });
  } finally {
    await browser.close();
    await page0.close();
    await stranger.close();
    await s.close();
    await Deno.remove(pki.dir, { recursive: true });
  }
});
