/**
 * The console's files over HTTP from a real member: /ui and /ui/ answer the page, the
 * script and stylesheet their types; every answer has an ETag (a conditional GET answers
 * 304 with no body), no-cache and a CSP allowing only the page's own origin; an unknown
 * asset is 404, a POST 405, HEAD has the headers without the body.
 */
import assert from "node:assert/strict";
import { startTestServer } from "../../server/harness.ts";
import { CONSOLE_ASSETS } from "../../../lib/api/console/assets_gen.ts";

Deno.test("console serving: content types, ETag and 304, CSP, 404, 405, HEAD", async () => {
  const s = await startTestServer();
  const client = Deno.createHttpClient({});
  const get = (path: string, init: RequestInit = {}) =>
    fetch(`${s.url}${path}`, { ...init, client });
  try {
    for (const path of ["/ui", "/ui/"]) {
      const r = await get(path);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("content-type"), "text/html; charset=utf-8");
      const html = await r.text();
      assert.match(html, /<script type="module" src="\/ui\/console\.js"><\/script>/);
      assert.equal(r.headers.get("etag"), CONSOLE_ASSETS["index.html"].etag);
      assert.equal(r.headers.get("cache-control"), "no-cache");
      const csp = r.headers.get("content-security-policy") ?? "";
      assert.match(csp, /default-src 'self'/);
      assert.match(csp, /connect-src 'self'/);
      assert.match(csp, /script-src 'self';/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    }
    const js = await get("/ui/console.js");
    assert.equal(js.headers.get("content-type"), "text/javascript; charset=utf-8");
    const code = await js.text();
    assert.equal(code, CONSOLE_ASSETS["console.js"].body);
    const css = await get("/ui/console.css");
    assert.equal(css.headers.get("content-type"), "text/css; charset=utf-8");
    await css.body?.cancel();

    const etag = js.headers.get("etag")!;
    assert.match(etag, /^"[0-9a-f]{32}"$/);
    const again = await get("/ui/console.js", { headers: { "If-None-Match": etag } });
    assert.equal(again.status, 304);
    assert.equal(await again.text(), "");
    const stale = await get("/ui/console.js", { headers: { "If-None-Match": '"old"' } });
    assert.equal(stale.status, 200);
    await stale.body?.cancel();

    const head = await get("/ui/console.js", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(new TextEncoder().encode(code).length));
    assert.equal(await head.text(), "");

    const missing = await get("/ui/nope.js");
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    const outside = await get("/uix");
    assert.equal(outside.status, 404);
    await outside.body?.cancel();
    const post = await get("/ui/", { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
    await post.body?.cancel();
  } finally {
    client.close();
    await s.close();
  }
});
