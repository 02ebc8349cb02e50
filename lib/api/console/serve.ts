/**
 * The web console's files at `/ui` on the client port: the page (at `/ui` and `/ui/`), its
 * script and its stylesheet, from the strings `deno task console:build` generated from
 * lib/ui/ (so a compiled binary carries them with nothing to read from disk). Each answer
 * carries its build-time ETag (a conditional GET answers 304), `Cache-Control: no-cache`
 * (revalidated on every load, so an upgraded member never serves a stale console), and a
 * Content-Security-Policy that lets the page load and call only its own origin. The one
 * call of the console's own under /ui, every member's status, is members_status.ts (routed
 * before these files by the API handler).
 */
import type { UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { once } from "../body.ts";
import { CONSOLE_ASSETS } from "./assets_gen.ts";

/** Where the console lives on the client port. */
export const CONSOLE_PATH = "/ui";

/**
 * Only this origin, for scripts, styles, images and calls; no inline script or style, no
 * plugins, no framing by other sites, no <base> rewriting, forms posted nowhere else.
 */
export const CONSOLE_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; " +
  "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
  "frame-ancestors 'self'; form-action 'self'";

const encoder = new TextEncoder();
/** Each asset's bytes, encoded once on first use. */
const bytesOf = new Map<string, Uint8Array>();

/** True for the paths the console answers: /ui and everything under /ui/. */
export function isConsolePath(path: string): boolean {
  return path === CONSOLE_PATH || path.startsWith(CONSOLE_PATH + "/");
}

/** The asset a console path names (the page for /ui and /ui/), or undefined. */
function assetName(path: string): string | undefined {
  if (path === CONSOLE_PATH || path === CONSOLE_PATH + "/") return "index.html";
  const name = path.slice(CONSOLE_PATH.length + 1);
  return Object.hasOwn(CONSOLE_ASSETS, name) ? name : undefined;
}

function plain(status: number, text: string, extra?: Record<string, string>) {
  const header = new Headers({ "Content-Type": "text/plain; charset=utf-8", ...extra });
  return { status, header, body: once(encoder.encode(text)) };
}

/** True when If-None-Match names `etag` (or is `*`). */
function notModified(req: UniversalServerRequest, etag: string): boolean {
  const inm = req.header.get("If-None-Match");
  if (inm === null) return false;
  return inm.split(",").some((t) => {
    const tag = t.trim();
    return tag === "*" || tag === etag || tag === "W/" + etag;
  });
}

/** Answers a request for a console path (see `isConsolePath`). */
export function serveConsole(req: UniversalServerRequest, path: string): UniversalServerResponse {
  if (req.method !== "GET" && req.method !== "HEAD") {
    return plain(405, "Method Not Allowed\n", { Allow: "GET, HEAD" });
  }
  const name = assetName(path);
  if (name === undefined) return plain(404, "404 page not found\n");
  const asset = CONSOLE_ASSETS[name];
  const header = new Headers({
    "Content-Type": asset.contentType,
    "ETag": asset.etag,
    "Cache-Control": "no-cache",
    "Content-Security-Policy": CONSOLE_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
  });
  if (notModified(req, asset.etag)) return { status: 304, header };
  let bytes = bytesOf.get(name);
  if (bytes === undefined) bytesOf.set(name, bytes = encoder.encode(asset.body));
  header.set("Content-Length", String(bytes.length));
  // lib/http leaves the body out of an answer to HEAD
  return { status: 200, header, body: once(bytes) };
}
