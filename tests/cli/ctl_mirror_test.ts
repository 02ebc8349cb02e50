/**
 * make-mirror: etcdctl 3.4 and concord ctl mirror the same source to the same destination
 * (under different destination prefixes), the base copy and then the changes, on etcd and on
 * Concord; the destination ends with the same keys, values and deletions from both.
 */
import assert from "node:assert/strict";
import { runCtl } from "../../lib/cli/ctl.ts";
import { StdinReader } from "../../lib/cli/ctl_stdin.ts";
import { onBothKinds, runConcordCtl } from "./ctl_compat.ts";

const dec = new TextDecoder();

async function keys(url: string, prefix: string): Promise<string> {
  const r = await runConcordCtl(url, ["get", prefix, "--prefix"]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.replaceAll(prefix, "<p>");
}

Deno.test("make-mirror copies and follows like etcdctl's", async () => {
  await onBothKinds(async (twins) => {
    const src = twins.a.url;
    const dst = twins.b.url;
    for (const [k, v] of [["p/1", "one"], ["p/2", "two"], ["other", "x"]]) {
      assert.equal((await runConcordCtl(src, ["put", k, v])).code, 0);
    }
    const child = new Deno.Command("etcdctl", {
      args: ["--endpoints", src, "make-mirror", "--prefix", "p/", "--dest-prefix", "e/", dst],
      env: { ETCDCTL_API: "3" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const ac = new AbortController();
    let out = "";
    const ctl = runCtl(
      ["--endpoints", src, "make-mirror", "--prefix", "p/", "--dest-prefix", "c/", dst],
      {
        out: (t) => out += typeof t === "string" ? t : dec.decode(t),
        err: (t) => out += t,
        stdin: new StdinReader(null),
        env: {},
        interrupt: ac.signal,
      },
    );
    let code: number;
    try {
      const want = "<p>2\ntwo\n<p>3\nthree\n";
      // the base copies first, then a put and a delete follow
      await until(async () => (await keys(dst, "e/")).includes("two"));
      await until(async () => (await keys(dst, "c/")).includes("two"));
      assert.equal((await runConcordCtl(src, ["put", "p/3", "three"])).code, 0);
      assert.equal((await runConcordCtl(src, ["del", "p/1"])).code, 0);
      await until(async () => (await keys(dst, "e/")) === want);
      await until(async () => (await keys(dst, "c/")) === want);
    } finally {
      child.kill("SIGINT");
      ac.abort();
      code = await ctl;
    }
    const status = await child.output();
    const strip = (s: string) => s.split("\n").filter((l) => !l.startsWith('{"level":')).join("\n");
    assert.deepEqual(
      { code, out },
      { code: status.code, out: dec.decode(status.stdout) + strip(dec.decode(status.stderr)) },
    );
    assert.equal(await keys(dst, "e/"), await keys(dst, "c/"));
    assert.equal((await runConcordCtl(src, ["make-mirror"])).code, 128);
  });
});

async function until(check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("timed out waiting for the mirror");
    await new Promise((r) => setTimeout(r, 50));
  }
}
