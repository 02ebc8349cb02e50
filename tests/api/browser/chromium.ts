/**
 * A real browser for tests: Debian's headless Chromium driven over CDP by puppeteer-core (no
 * browser is downloaded), and a page on its own origin: a static server on another port
 * serving a script that the test bundles for the browser with `deno bundle` (no build step to
 * run by hand). A missing Chromium fails the test with a message saying how to install it.
 */
import puppeteer, { type Browser, type Page } from "puppeteer-core";

/** Where Debian's chromium package puts the browser. */
export const CHROMIUM = "/usr/bin/chromium";

const ROOT = new URL("../../../", import.meta.url).pathname;

/** Fails, naming the fix, when Chromium is not installed. */
export async function requireChromium(): Promise<void> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `${CHROMIUM} not found: the browser tests need Debian's chromium ` +
        "(apt-get install -y chromium; .ci/run installs it)",
    );
  }
}

/** Bundles `entry` (a path under the repository) for the browser; returns the JavaScript. */
export async function bundleForBrowser(entry: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "concord-bundle-" });
  try {
    const out = `${dir}/page.js`;
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform", "browser", "--output", out, entry],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!r.success) {
      throw new Error(`deno bundle ${entry} failed: ${new TextDecoder().decode(r.stderr)}`);
    }
    return await Deno.readTextFile(out);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A page origin: a static server for one HTML page and its script. */
export interface PageOrigin {
  /** http://127.0.0.1:<port>, the page's origin. */
  readonly origin: string;
  close(): Promise<void>;
}

/** Serves `/` (a page loading `/page.js` as a module) and `/page.js` on 127.0.0.1:0. */
export function servePage(script: string): Promise<PageOrigin> {
  const html = '<!doctype html><meta charset="utf-8"><title>concord streams</title>' +
    '<script type="module" src="/page.js"></script>';
  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: ({ port }) =>
        resolve({
          origin: `http://127.0.0.1:${port}`,
          close: () => server.shutdown(),
        }),
    }, (req) => {
      const path = new URL(req.url).pathname;
      if (path === "/") return new Response(html, { headers: { "content-type": "text/html" } });
      if (path === "/page.js") {
        return new Response(script, { headers: { "content-type": "text/javascript" } });
      }
      return new Response("not found", { status: 404 });
    });
  });
}

/** Options of `launchChromium`. */
export interface LaunchOptions {
  /**
   * Base64 SHA-256 digests of public keys (SubjectPublicKeyInfo) whose certificates the
   * browser accepts though no CA it trusts signed them: Chromium's
   * --ignore-certificate-errors-spki-list, narrower than ignoring every certificate error.
   */
  trustSpki?: string[];
}

/** Launches headless Chromium (as root it needs --no-sandbox). */
export async function launchChromium(opts: LaunchOptions = {}): Promise<Browser> {
  await requireChromium();
  const args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"];
  if (opts.trustSpki !== undefined && opts.trustSpki.length > 0) {
    args.push(`--ignore-certificate-errors-spki-list=${opts.trustSpki.join(",")}`);
  }
  return await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args,
    // puppeteer's own signal handlers would outlive the test
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
}

/** Opens `origin` in a new page and waits until its script has set `globalThis.concord`. */
export async function openPage(browser: Browser, origin: string): Promise<Page> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  // A module script has run before the load event.
  await page.goto(origin + "/", { waitUntil: "load" });
  if (!(await page.evaluate(() => "concord" in globalThis))) {
    throw new Error(`the page script did not start: ${errors.join("; ") || "no error reported"}`);
  }
  return page;
}

/** The base64 SHA-256 of the public key of PEM private key file `keyFile` (via openssl). */
export async function spkiDigest(keyFile: string): Promise<string> {
  const der = await new Deno.Command("openssl", {
    args: ["pkey", "-in", keyFile, "-pubout", "-outform", "DER"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!der.success) throw new Error(`openssl pkey: ${new TextDecoder().decode(der.stderr)}`);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", der.stdout));
  return btoa(String.fromCharCode(...digest));
}
