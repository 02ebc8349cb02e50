/**
 * The peer for bench/http_load.ts: node:http2 under Deno serving the same two handlers as
 * bench/http_echo_server.ts, so both servers are measured in the same run on the same machine.
 * `deno run -A bench/http_node_peer.ts [port] [trivial|connect] [h2|h1]`.
 */
import http2 from "node:http2";
import http from "node:http";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createConnectRouter } from "@connectrpc/connect";
import { EchoService } from "../tests/http/echo_service.ts";
import { create } from "@bufbuild/protobuf";
import { type StringValue, StringValueSchema } from "@bufbuild/protobuf/wkt";

const port = Number(Deno.args[0] ?? 0);
const mode = Deno.args[1] ?? "trivial";
const proto = Deno.args[2] ?? "h2";

function trivial(stream: http2.ServerHttp2Stream): void {
  const parts: Uint8Array[] = [];
  stream.on("data", (c: Uint8Array) => parts.push(c));
  stream.on("end", () => {
    const body = parts.length === 1 ? parts[0] : new Uint8Array(5);
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, {
      waitForTrailers: true,
    });
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    stream.end(body);
  });
  stream.on("error", () => {});
}

const connectHandler = connectNodeAdapter({
  routes: (router: ReturnType<typeof createConnectRouter>) => {
    router.service(EchoService, {
      // deno-lint-ignore require-await
      say: async (req: StringValue) => create(StringValueSchema, { value: req.value }),
    } as never);
  },
});

function trivialH1(req: http.IncomingMessage, res: http.ServerResponse): void {
  const parts: Uint8Array[] = [];
  req.on("data", (c: Uint8Array) => parts.push(c));
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/octet-stream" });
    res.end(parts.length === 1 ? parts[0] : new Uint8Array(0));
  });
}

let listening: http2.Http2Server | http.Server;
if (proto === "h1") {
  listening = http.createServer(mode === "trivial" ? trivialH1 : connectHandler);
} else if (mode === "trivial") {
  const s = http2.createServer();
  s.on("stream", trivial);
  listening = s;
} else {
  listening = http2.createServer(connectHandler);
}
listening.on("error", (e: Error) => console.error("server error", e));
listening.listen(port, "127.0.0.1", () => {
  const a = listening.address();
  console.log(`listening ${typeof a === "object" && a !== null ? a.port : port}`);
});
