/**
 * Runs Concord's HTTP server for benchmarks and manual checks:
 * `deno run -A bench/http_echo_server.ts [port] [trivial|connect]` prints `listening <port>`.
 * `trivial` serves bench/http_trivial.ts on every path; `connect` (default) serves the test
 * echo service through Connect's router (gRPC, gRPC-web, Connect JSON).
 */
import { serveHttp } from "../lib/http/server.ts";
import { echoHandler } from "../tests/http/echo_service.ts";
import { trivialGrpcHandler } from "./http_trivial.ts";

const mode = Deno.args[1] ?? "connect";
const server = await serveHttp({
  handler: mode === "trivial" ? trivialGrpcHandler : echoHandler(),
  port: Number(Deno.args[0] ?? 0),
});
console.log(`listening ${server.port}`);
Deno.addSignalListener("SIGTERM", () => {
  server.close().then(() => Deno.exit(0));
});
