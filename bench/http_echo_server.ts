/**
 * Runs Concord's HTTP server with the test echo service, for benchmarks and manual checks:
 * `deno run -A bench/http_echo_server.ts [port]` prints `listening <port>` once bound.
 */
import { serveHttp } from "../lib/http/server.ts";
import { echoHandler } from "../tests/http/echo_service.ts";

const server = await serveHttp({ handler: echoHandler(), port: Number(Deno.args[0] ?? 0) });
console.log(`listening ${server.port}`);
Deno.addSignalListener("SIGTERM", () => {
  server.close().then(() => Deno.exit(0));
});
