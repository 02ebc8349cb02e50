/**
 * Module integrity for Deno: deno.json names deno.lock and freezes it, so every deno command
 * (`deno task test`, `deno task check`, CI) refuses a module the lockfile does not pin, and
 * the lockfile lists exactly package.json's pinned packages (as Deno writes it, see
 * README.md for how to update it).
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;

Deno.test("deno.lock: deno.json freezes it, and it pins package.json's packages", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  assert.deepEqual(config.lock, { path: "deno.lock", frozen: true });
  const lock = JSON.parse(await Deno.readTextFile(`${ROOT}deno.lock`));
  const pkg = JSON.parse(await Deno.readTextFile(`${ROOT}package.json`));
  const pinned = Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })
    .map(([name, version]) => `npm:${name}@${version}`).sort();
  assert.deepEqual([...lock.workspace.packageJson.dependencies].sort(), pinned);
});

Deno.test("deno.lock: a module the lockfile does not pin is refused, and the lockfile stays as it is", async () => {
  const before = await Deno.readTextFile(`${ROOT}deno.lock`);
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
    () =>
      new Response("export const x = 1;\n", {
        headers: { "content-type": "application/javascript" },
      }),
  );
  const dir = await Deno.makeTempDir({ prefix: "concord-lock-" });
  try {
    await Deno.writeTextFile(
      `${dir}/remote.ts`,
      `import { x } from "http://127.0.0.1:${server.addr.port}/m.js";\nconsole.log(x);\n`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--reload", "--config", `${ROOT}deno.json`, `${dir}/remote.ts`],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.notEqual(out.code, 0, stderr);
    assert.match(stderr, /lockfile is out of date/);
    assert.equal(await Deno.readTextFile(`${ROOT}deno.lock`), before);
  } finally {
    ac.abort();
    await server.finished;
    await Deno.remove(dir, { recursive: true });
  }
});
