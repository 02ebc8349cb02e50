/**
 * `concord serve --log-outputs FILE --log-level LEVEL` as a process: the log goes to the file
 * (nothing to stderr), as JSON lines from start-up to "closed etcd server"; at warn, the info
 * lines are gone. A --config-file sets the same.
 */
import assert from "node:assert/strict";
import { freePort } from "../support/etcd.ts";
import { waitFor } from "../server/harness.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const dec = new TextDecoder();

async function readLines(path: string): Promise<{ level: string; msg: string }[]> {
  let text = "";
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

/** Runs serve with `args` until /health answers, stops it with SIGTERM, returns its stderr. */
async function runUntilHealthy(args: string[], url: string): Promise<string> {
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "serve", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = proc.output();
  try {
    await waitFor("serve to answer /health", async () => {
      try {
        const r = await fetch(`${url}/health`);
        await r.body?.cancel();
        return r.status === 200;
      } catch {
        return false;
      }
    }, 20_000);
  } finally {
    proc.kill("SIGTERM");
  }
  const done = await out;
  assert.equal(done.code, 0, dec.decode(done.stderr));
  assert.equal(dec.decode(done.stdout), "");
  return dec.decode(done.stderr);
}

Deno.test("serve log: --log-outputs to a file, --log-level warn silences info", async () => {
  const dir = await Deno.makeTempDir({ prefix: "concord-servelog-" });
  try {
    const url = `http://127.0.0.1:${freePort()}`;
    const common = [
      "--data-dir",
      `${dir}/data`,
      "--listen-client-urls",
      url,
      "--advertise-client-urls",
      url,
    ];
    const info = `${dir}/info.log`;
    const stderr = await runUntilHealthy(
      [...common, "--log-outputs", info, "--unsafe-no-fsync"],
      url,
    );
    assert.equal(stderr, "", "every line went to the file");
    const lines = await readLines(info);
    const msgs = lines.map((l) => l.msg);
    for (
      const msg of [
        "starting an etcd server",
        "opened backend db",
        "elected leader",
        "ready to serve client requests",
        "received signal; shutting down",
        "closed etcd server",
        "fsync is disabled (--unsafe-no-fsync): a power loss can lose acknowledged writes",
      ]
    ) assert.ok(msgs.includes(msg), `${msg} in ${msgs.join(" | ")}`);
    assert.ok(lines.every((l) => l.level === "info" || l.level === "warn"));

    const quiet = `${dir}/warn.log`;
    // the same flags from etcd's YAML config file; the command line's own are ignored
    await Deno.writeTextFile(
      `${dir}/etcd.yml`,
      [
        `data-dir: ${dir}/data`,
        `listen-client-urls: ${url}`,
        `advertise-client-urls: ${url}`,
        "log-level: warn",
        `log-outputs: [${quiet}]`,
      ].join("\n"),
    );
    const stderr2 = await runUntilHealthy(
      ["--config-file", `${dir}/etcd.yml`, "--log-level", "debug"],
      url,
    );
    assert.equal(stderr2, "");
    const warned = await readLines(quiet);
    assert.ok(
      warned.some((l) => l.msg === "command line flags ignored because --config-file is given"),
    );
    assert.ok(
      warned.every((l) => l.level === "warn" || l.level === "error"),
      JSON.stringify(warned),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
