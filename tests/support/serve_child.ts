/**
 * A `concord serve` child process for tests that kill and restart a server on one data dir.
 * It listens on port 0 and the test learns the bound client URL from the child's own log line
 * ("now serving peer/client/metrics"), so the URL is this child's and no other process's: a
 * port picked with freePort() is free only when picked, and on a loaded machine another
 * test's server can bind it during the seconds before the child does (the child then exits
 * with "cannot listen" while the test talks to the other server).
 */

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** A running child and its log. */
export interface ServeChild {
  /** The client URL the child bound. */
  url: string;
  proc: Deno.ChildProcess;
  /** Everything the child wrote to stderr; resolves once it exits. */
  log: Promise<string>;
}

/** The log line that names the bound URLs (lib/cli/serve.ts). */
const SERVING = '"msg":"now serving peer/client/metrics"';

/**
 * Starts `concord serve --data-dir dir` (plus `extra` flags) on 127.0.0.1 port 0 and resolves
 * with its bound client URL once it logged it; fails with the child's log if it exits first
 * or does not listen within `timeoutMs`.
 */
export async function serveChild(
  dir: string,
  extra: string[] = [],
  timeoutMs = 30_000,
): Promise<ServeChild> {
  const proc = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "serve",
      "--data-dir",
      dir,
      "--listen-client-urls",
      "http://127.0.0.1:0",
      "--advertise-client-urls",
      "http://127.0.0.1:0",
      "--listen-peer-urls",
      "http://127.0.0.1:0",
      ...extra,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const bound = Promise.withResolvers<string>();
  const log = (async () => {
    let all = "";
    let scanned = 0;
    let found = false;
    for await (const chunk of proc.stderr.pipeThrough(new TextDecoderStream())) {
      all += chunk;
      if (found) continue;
      const end = all.lastIndexOf("\n");
      for (const line of all.slice(scanned, end + 1).split("\n")) {
        if (!line.includes(SERVING)) continue;
        const urls = JSON.parse(line)["listen-client-urls"] as string[];
        bound.resolve(urls[0]);
        found = true;
        break;
      }
      scanned = end + 1;
    }
    if (!found) bound.reject(new Error("concord serve exited before listening"));
    return all;
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no client URL in ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const url = await Promise.race([bound.promise, late]);
    return { url, proc, log };
  } catch (err) {
    try {
      proc.kill("SIGKILL");
    } catch {
      // already exited
    }
    await proc.status;
    const text = await log;
    throw new Error(`${(err as Error).message}\n${text}`);
  } finally {
    clearTimeout(timer);
  }
}
