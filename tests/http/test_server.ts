/**
 * A plain (non-Connect) handler for the protocol tests, and a helper that runs a test against
 * a fresh server and always closes it.
 *
 * Paths: /echo (body back, trailer x-sum), /big/<n> (n octets), /url (the request URL),
 * /hang (waits for the request signal to abort), /headers (request headers as JSON),
 * /stream/<n> (n chunks, each flushed; waits for the test between chunks via `gate`),
 * /late-signal (reads the body to its end or failure, only then the request's signal).
 */
import type { UniversalHandlerFn, UniversalServerRequest } from "@connectrpc/connect/protocol";
import { type HttpLimits, type HttpServer, serveHttp } from "../../lib/http/server.ts";

export interface Observed {
  aborted: number;
  /** /late-signal: the reason of the signal first read after the body, or "not aborted". */
  lateSignals?: string[];
  bodyErrors: string[];
  requests: number;
}

async function readAll(req: UniversalServerRequest): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of req.body as AsyncIterable<Uint8Array>) {
    parts.push(c);
    n += c.length;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

async function* once(b: Uint8Array): AsyncIterable<Uint8Array> {
  yield b;
}

export function testHandler(obs: Observed): UniversalHandlerFn {
  const te = new TextEncoder();
  return async (req) => {
    obs.requests++;
    const path = new URL(req.url).pathname;
    if (path === "/echo") {
      let body: Uint8Array;
      try {
        body = await readAll(req);
      } catch (e) {
        obs.bodyErrors.push((e as Error).name);
        throw e;
      }
      let sum = 0;
      for (const b of body) sum = (sum + b) % 65536;
      return {
        status: 200,
        header: new Headers({ "content-type": "application/octet-stream" }),
        body: once(body),
        trailer: new Headers({ "x-sum": String(sum) }),
      };
    }
    if (path.startsWith("/big/")) {
      const n = Number(path.slice(5));
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = i & 0xff;
      return { status: 200, body: once(b) };
    }
    if (path === "/url") return { status: 200, body: once(te.encode(req.url)) };
    if (path === "/headers") {
      return { status: 200, body: once(te.encode(JSON.stringify([...req.header]))) };
    }
    if (path === "/hang") {
      await new Promise<void>((resolve) => {
        if (req.signal.aborted) resolve();
        req.signal.addEventListener("abort", () => resolve());
      });
      obs.aborted++;
      return { status: 200 };
    }
    if (path === "/late-signal") {
      // lib/http builds a stream's signal on its first read: one first read after the
      // stream was reset must be aborted all the same
      await readAll(req).catch(() => undefined);
      const s = req.signal;
      (obs.lateSignals ??= []).push(s.aborted ? (s.reason as Error).message : "not aborted");
      return { status: 200 };
    }
    if (path.startsWith("/stream/")) {
      const n = Number(path.slice(8));
      return {
        status: 200,
        body: (async function* () {
          for (let i = 0; i < n; i++) {
            yield te.encode(`chunk ${i}\n`);
            await new Promise((r) => setTimeout(r, 5));
          }
        })(),
        trailer: new Headers({ "x-count": String(n) }),
      };
    }
    return { status: 404 };
  };
}

/** Run `fn` against a fresh cleartext server; the server is closed afterwards. */
export async function withServer(
  limits: Partial<HttpLimits>,
  fn: (server: HttpServer, obs: Observed) => Promise<void>,
): Promise<void> {
  const obs: Observed = { aborted: 0, bodyErrors: [], requests: 0 };
  const server = await serveHttp({ handler: testHandler(obs), limits });
  try {
    await fn(server, obs);
  } finally {
    await server.close();
  }
}

/** Poll `cond` until true, failing after `ms`. */
export async function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
