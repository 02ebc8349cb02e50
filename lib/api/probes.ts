/**
 * etcd 3.6's /livez and /readyz (server/etcdserver/api/etcdhttp/health.go): each runs a list
 * of named checks and answers 200 "ok\n" when all pass, or 503 with one line per check
 * ("[+]name ok" or "[-]name failed: why") when one fails. `?verbose` lists the checks on
 * success too; `?exclude=name` (repeatable) skips checks (an unknown name is ignored, as etcd
 * does); `/livez/<name>` and `/readyz/<name>` run one check. Only GET is served.
 */
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import { once } from "./body.ts";

/** A named check: resolves when healthy, throws (its message is the reason) when not. */
export interface ProbeCheck {
  name: string;
  run(): Promise<void>;
}

/** The checks behind each probe. */
export interface Probes {
  /** /livez: fails only when the process is wedged (etcd: a serializable read). */
  livez: ProbeCheck[];
  /** /readyz: fails when the member cannot serve (no leader, a corrupt alarm, a learner). */
  readyz: ProbeCheck[];
}

const encoder = new TextEncoder();

function text(status: number, body: string): UniversalServerResponse {
  return {
    status,
    header: new Headers({
      "Content-Type": "text/plain; charset=utf-8",
      "X-Content-Type-Options": "nosniff",
    }),
    body: once(encoder.encode(body)),
  };
}

/**
 * The answer to a /livez or /readyz request (path and full URL), or undefined when `path` is
 * not a probe path.
 */
export async function serveProbe(
  probes: Probes,
  method: string,
  path: string,
  url: string,
  /** Gets each check's result (etcd_server_healthcheck{type,name} and _healthchecks_total). */
  record?: (type: string, name: string, ok: boolean) => void,
): Promise<UniversalServerResponse | undefined> {
  const m = /^\/(livez|readyz)(?:\/([^/]+))?$/.exec(path);
  if (!m) return undefined;
  const all = probes[m[1] as keyof Probes];
  let checks: ProbeCheck[];
  if (m[2] !== undefined) {
    const one = all.find((c) => c.name === m[2]);
    if (one === undefined) return undefined;
    checks = [one];
  } else {
    const excluded = new Set(
      new URL(url, "http://localhost").searchParams.getAll("exclude").filter((s) => s !== ""),
    );
    checks = all.filter((c) => !excluded.has(c.name));
  }
  if (method !== "GET") {
    const res = text(405, "Method Not Allowed\n");
    res.header!.set("Allow", "GET");
    return res;
  }
  const type = m[1];
  const results = await Promise.all(checks.map(async (c) => {
    try {
      await c.run();
      record?.(type, c.name, true);
      return `[+]${c.name} ok\n`;
    } catch (err) {
      record?.(type, c.name, false);
      return `[-]${c.name} failed: ${err instanceof Error ? err.message : String(err)}\n`;
    }
  }));
  const reason = results.join("");
  if (results.some((r) => r.startsWith("[-]"))) return text(503, reason + "\n");
  const verbose = new URL(url, "http://localhost").searchParams.has("verbose");
  return text(200, (verbose ? reason : "") + "ok\n");
}
