/**
 * The browser build of the client: lib/client/browser.ts bundled for the browser platform
 * must carry none of the Deno-only transport (Concord's HTTP/2 client, node: modules), and
 * the bundle itself, loaded as a plain module, must work against a Concord member over
 * gRPC-web (its default transport).
 */
import assert from "node:assert/strict";
import { startConcordGrpc } from "./targets.ts";

Deno.test("browser bundle: no Deno-only code; KV, txn, lease and errors work from it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "concord-client-bundle-" });
  const t = await startConcordGrpc();
  try {
    const root = new URL("../../", import.meta.url).pathname;
    const out = `${dir}/client.js`;
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--platform", "browser", "-o", out, "lib/client/browser.ts"],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    const code = await Deno.readTextFile(out);
    assert.doesNotMatch(code, /["']node:/);
    assert.doesNotMatch(code, /H2ClientSession|Deno\.connect/);

    const mod = await import(`file://${out}`);
    const c = new mod.Client({ endpoints: [t.url] });
    try {
      await c.put("b/1", "one");
      assert.equal(await c.getText("b/1"), "one");
      const tx = await c.txn().if(mod.cmp.value("b/1", "=", "one")).then(mod.op.put("b/2", "two"))
        .commit();
      assert.equal(tx.succeeded, true);
      const { ID } = await c.lease.grant(30);
      await c.put("b/3", "x", { lease: ID });
      assert.equal((await c.lease.timeToLive(ID, { keys: true })).keys.length, 1);
      await assert.rejects(c.put("", "x"), (e) => mod.Errors.emptyKey.is(e));
    } finally {
      await c.close();
    }
  } finally {
    await t.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
