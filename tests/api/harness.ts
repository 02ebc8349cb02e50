/**
 * Starts the API handler on 127.0.0.1:0 for tests. Until lib/http's own server exists this
 * serves through Deno.serve (HTTP/1.1: Connect, gRPC-web, the gateway, /health and so on;
 * not gRPC, which needs trailers).
 */
import type { UniversalHandlerFn } from "@connectrpc/connect/protocol";
import { type ApiHandlerOptions, createApiHandler } from "../../lib/api/handler.ts";

/** A running test server. */
export interface TestServer {
  readonly port: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  close(): Promise<void>;
}

async function* empty(): AsyncGenerator<Uint8Array> {}

/** Serves `handler` with Deno.serve. */
export function serveWithDeno(handler: UniversalHandlerFn): TestServer {
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
    async (request) => {
      const res = await handler({
        httpVersion: "1.1",
        url: request.url,
        method: request.method,
        header: request.headers,
        body: request.body ?? empty(),
        signal: request.signal,
      });
      const nullBody = res.status === 204 || res.status === 304 || request.method === "HEAD";
      const body = res.body && !nullBody ? ReadableStream.from(res.body) : null;
      return new Response(body, { status: res.status, headers: res.header });
    },
  );
  const port = server.addr.port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    async close() {
      ac.abort();
      await server.finished;
    },
  };
}

/** Builds the API handler from `options` and serves it. */
export function startApi(options: ApiHandlerOptions): TestServer {
  return serveWithDeno(createApiHandler(options));
}

/** Runs curl with `args`; returns its stdout (curl exits non-zero only on transport errors). */
export async function curl(...args: string[]): Promise<string> {
  const out = await new Deno.Command("curl", {
    args: ["-sS", ...args],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!out.success) {
    throw new Error(`curl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}
