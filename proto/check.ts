/**
 * `deno task proto:check`: regenerates the TypeScript for proto/*.proto into a temporary
 * directory and fails when proto/gen differs, so CI catches a .proto edit committed without
 * its generated code (or a hand edit of generated code).
 */
const root = new URL("..", import.meta.url).pathname;
const tmp = await Deno.makeTempDir({ prefix: "concord-proto-" });
try {
  const gen = new Deno.Command(`${root}node_modules/.bin/buf`, {
    args: ["generate", "proto", "--template", "proto/buf.gen.yaml", "-o", tmp],
    cwd: root,
  });
  const out = await gen.output();
  if (!out.success) {
    console.error(new TextDecoder().decode(out.stderr));
    Deno.exit(1);
  }
  const diff = await new Deno.Command("diff", {
    args: ["-r", "proto/gen", `${tmp}/proto/gen`],
    cwd: root,
  }).output();
  if (!diff.success) {
    console.error(new TextDecoder().decode(diff.stdout));
    console.error("proto/gen is stale: run `deno task proto` and commit the result");
    Deno.exit(1);
  }
  console.log("proto/gen is up to date");
} finally {
  await Deno.remove(tmp, { recursive: true });
}
