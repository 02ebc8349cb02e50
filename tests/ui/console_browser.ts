/// <reference lib="dom" />
/**
 * The console in a real browser for tests: a Concord member started in-process by the test
 * (tests/server/harness.ts, with the real etcdctl bound to it), headless Chromium (Debian's,
 * driven over CDP by puppeteer-core: tests/api/browser/chromium.ts) on its /ui, and helpers
 * that wait for what the page shows with a bounded timeout. An error the page reports (an
 * uncaught exception, a Content-Security-Policy violation) fails the test. When the test
 * fails, a screenshot of the page is saved to a temp dir and its path printed, with the
 * page's own errors.
 */
import type { Browser, Page } from "puppeteer-core";
import { launchChromium } from "../api/browser/chromium.ts";
import { startTestServer, type TestServer } from "../server/harness.ts";
import type { ServerConfig } from "../../lib/server/config.ts";

/** What a console test gets. */
export interface ConsoleContext {
  /** The member (its url, and etcdctl bound to it). */
  server: TestServer;
  /** The page, opened on the console. */
  page: Page;
}

/** How long a test waits for what the page should show. */
export const WAIT_MS = 10_000;

/**
 * Starts a member (with `edit` applied to its config), opens `/ui/#<hash>` in Chromium once
 * `prepare` has run against the member, and runs `fn`; stops everything after, saving a
 * screenshot when `fn` fails.
 */
export async function withConsole(
  name: string,
  fn: (ctx: ConsoleContext) => Promise<void>,
  opts: {
    hash?: string;
    prepare?: (s: TestServer) => Promise<void>;
    /** A browser to open the page in (see `withChromium`); default: a fresh one. */
    browser?: Browser;
  } = {},
  edit?: (c: ServerConfig) => void,
): Promise<void> {
  const server = await startTestServer((c) => {
    c.heartbeatIntervalMs = 10;
    c.electionTimeoutMs = 100;
    edit?.(c);
  });
  try {
    await opts.prepare?.(server);
    await inBrowser(
      name,
      server.url,
      opts.hash ?? "keys",
      (page) => fn({ server, page }),
      opts.browser,
    );
  } finally {
    await server.close();
  }
}

/**
 * Runs `fn` with one headless Chromium, closed after: the tests of a file share it (as steps
 * of one test), since launching it is most of a console test's time.
 */
export async function withChromium(fn: (browser: Browser) => Promise<void>): Promise<void> {
  const browser = await launchChromium();
  try {
    await fn(browser);
  } finally {
    await browser.close();
  }
}

/** Options of a test step sharing the file's browser: its pages outlive no step, but
 * puppeteer's connection (opened before the step) reads on across steps. */
export const SHARED_BROWSER_STEP = { sanitizeOps: false, sanitizeResources: false };

/** One scenario of a test file, run as a step with the file's shared browser. */
export type Step = [name: string, fn: (browser: Browser) => Promise<void>];

/** Runs `steps` in order as steps of test `t`, sharing one Chromium. */
export async function runSteps(t: Deno.TestContext, steps: Step[]): Promise<void> {
  await withChromium(async (browser) => {
    for (const [name, fn] of steps) {
      const ok = await t.step({ name, ...SHARED_BROWSER_STEP, fn: () => fn(browser) });
      if (!ok) break;
    }
  });
}

/**
 * Opens the console of the member at `url` on page `hash` in a new page of `shared` (or of a
 * fresh headless Chromium) and runs `fn`; on failure saves a screenshot (its path is
 * printed) and prints the page's errors.
 */
export async function inBrowser(
  name: string,
  url: string,
  hash: string,
  fn: (page: Page) => Promise<void>,
  shared?: Browser,
): Promise<void> {
  const pageErrors: string[] = [];
  const browser = shared ?? await launchChromium();
  let page: Page | undefined;
  try {
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    page.on("console", (m) => {
      if (m.type() === "error") pageErrors.push(m.text());
    });
    await page.goto(`${url}/ui/#${hash}`, { waitUntil: "load" });
    await page.waitForSelector("header h1", { timeout: WAIT_MS });
    await fn(page);
    // an uncaught exception or a CSP violation (reported on the console) fails the test
    if (pageErrors.length > 0) throw new Error(`the page reported errors`);
  } catch (err) {
    if (page !== undefined) {
      const dir = await Deno.makeTempDir({ prefix: "concord-console-shot-" });
      const file = `${dir}/${name.replace(/[^a-z0-9]+/gi, "_")}.png`;
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      console.error(`console test "${name}" failed: screenshot at ${file}`);
      if (pageErrors.length > 0) console.error(`page errors: ${pageErrors.join("\n")}`);
    }
    throw err;
  } finally {
    if (shared === undefined) await browser.close();
    else await page?.close();
  }
}

/** Waits until `selector` matches an element whose text includes `text`; returns its text. */
export async function waitForText(
  page: Page,
  selector: string,
  text: string | RegExp,
  what = `${selector} showing ${text}`,
): Promise<string> {
  const source = text instanceof RegExp ? text.source : undefined;
  const flags = text instanceof RegExp ? text.flags : undefined;
  const plain = text instanceof RegExp ? undefined : text;
  try {
    const handle = await page.waitForFunction(
      (sel: string, plain?: string, source?: string, flags?: string) => {
        for (const el of document.querySelectorAll(sel)) {
          const t = el.textContent ?? "";
          if (plain !== undefined ? t.includes(plain) : new RegExp(source!, flags).test(t)) {
            return t;
          }
        }
        return false;
      },
      { timeout: WAIT_MS, polling: 50 },
      selector,
      plain,
      source,
      flags,
    );
    return (await handle.jsonValue()) as string;
  } catch (err) {
    throw new Error(`timed out waiting for ${what}`, { cause: err });
  }
}

/** Waits until no element matches `selector`. */
export async function waitForGone(page: Page, selector: string): Promise<void> {
  try {
    await page.waitForFunction(
      (sel: string) => document.querySelector(sel) === null,
      { timeout: WAIT_MS, polling: 50 },
      selector,
    );
  } catch (err) {
    throw new Error(`timed out waiting for ${selector} to go`, { cause: err });
  }
}

/** Replaces the value of the input matched by `selector` with `text`, as a user types it. */
export async function typeInto(page: Page, selector: string, text: string): Promise<void> {
  await page.click(selector, { count: 3 });
  await page.keyboard.press("Backspace");
  if (text !== "") await page.type(selector, text);
}
