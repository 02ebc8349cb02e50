/**
 * Starts the API handler on 127.0.0.1:0 for tests, through lib/http's server (HTTP/1.1 and
 * h2c on one port), as the real server does.
 */
import { type ApiHandlerOptions, createApiHandler } from "../../lib/api/handler.ts";
import { type HttpLimits, serveHttp } from "../../lib/http/server.ts";

/** A running test server. */
export interface TestServer {
  readonly port: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  close(): Promise<void>;
}

/** Builds the API handler from `options` and serves it with lib/http (`limits` passed on). */
export async function startApi(
  options: ApiHandlerOptions,
  limits?: Partial<HttpLimits>,
): Promise<TestServer> {
  const server = await serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    handler: createApiHandler(options),
    limits,
  });
  return {
    port: server.port,
    url: `http://127.0.0.1:${server.port}`,
    close: () => server.close(),
  };
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
