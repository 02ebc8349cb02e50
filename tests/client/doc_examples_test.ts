/**
 * The client's doc examples run against a real member: `deno test --doc` over lib/client
 * with ETCDCTL_ENDPOINTS (which the examples read, as etcdctl does) naming a Concord member.
 * Type-checking them is `deno check --doc lib/client/` (slow: each example is a module).
 */
import assert from "node:assert/strict";
import { startConcordGrpc } from "./targets.ts";

Deno.test("lib/client doc examples run against a Concord member", async () => {
  const t = await startConcordGrpc();
  try {
    const root = new URL("../../", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["test", "--doc", "--no-check", "-A", "lib/client/"],
      cwd: root,
      env: { ETCDCTL_ENDPOINTS: t.url, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, text);
    // every example ran (a file without examples would make this vacuous)
    const ran = Number(/ok \| (\d+) passed/.exec(text)?.[1] ?? 0);
    assert.ok(ran >= 10, `only ${ran} examples ran:\n${text}`);
  } finally {
    await t.stop();
  }
});
