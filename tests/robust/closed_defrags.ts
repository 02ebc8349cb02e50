/**
 * Defrags a member refused as `backend is closed`, checked against its log. Installing the
 * leader's snapshot closes the backend a defrag is copying (etcd's old backend instead waits
 * for the defrag before it closes), and so does a member stopping; tests/sim's compaction
 * workload allows those failures. A real run cannot see inside the member, so each such
 * failure must be explained by the member's own log (any incarnation, read once the cluster
 * stopped): an "installed snapshot" whose install overlapped the defrag, a fault point fired
 * inside an install, or the member shutting down meanwhile. Anything else is a violation.
 * The runs' low --snapshot-count (failpoint_arm.ts) makes installs common.
 */
import { parseGoDuration } from "../../lib/cli/serve_flag_values.ts";

/** A defrag refused as `backend is closed`, with its call and return on the wall clock. */
export interface ClosedDefrag {
  member: number;
  callMs: number;
  retMs: number;
}

/** Slack on the wall clock between this process's reading and the member's log. */
const SLACK_MS = 50;

/** One log line's message, time and the install's length, if it is a JSON log line. */
function parseLine(line: string): { msg: string; ts: number; tookMs: number; point?: string } {
  const none = { msg: "", ts: NaN, tookMs: 0 };
  if (!line.startsWith("{")) return none;
  let j: { msg?: string; ts?: string; took?: string; point?: string };
  try {
    j = JSON.parse(line);
  } catch (err) {
    // a line cut by a kill -9 explains nothing
    if (err instanceof SyntaxError) return none;
    throw err;
  }
  return {
    msg: j.msg ?? "",
    ts: j.ts === undefined ? NaN : Date.parse(j.ts),
    tookMs: j.took === undefined ? 0 : parseGoDuration(j.took),
    point: j.point,
  };
}

/** What in `log` explains a defrag of its member closed between `callMs` and `retMs`. */
export function explainClosedDefrag(log: string, d: ClosedDefrag): string | null {
  for (const line of log.split("\n")) {
    const l = parseLine(line);
    if (!(l.ts >= d.callMs - SLACK_MS)) continue;
    if (l.msg === "installed snapshot" && l.ts - l.tookMs <= d.retMs + SLACK_MS) {
      return "a snapshot install";
    }
    const inInstall = l.point === "applyBeforeOpenSnapshot" || l.point === "applyAfterOpenSnapshot";
    if (l.msg === "failpoint fired" && inInstall && l.ts <= d.retMs + SLACK_MS) {
      return `a snapshot install that died at ${l.point}`;
    }
    if (l.msg.endsWith("; shutting down") && l.ts <= d.retMs + SLACK_MS) return "a stop";
  }
  return null;
}

/** Violations: the closed defrags nothing in their member's logs explains. */
export async function unexplainedClosedDefrags(
  defrags: readonly ClosedDefrag[],
  logs: (member: number) => readonly Promise<string>[],
): Promise<string[]> {
  const out: string[] = [];
  for (const d of defrags) {
    const texts = await Promise.all(logs(d.member));
    if (texts.some((t) => explainClosedDefrag(t, d) !== null)) continue;
    out.push(
      `defrag of m${d.member + 1} failed: backend is closed (called ${
        new Date(d.callMs).toISOString()
      }, returned ${
        new Date(d.retMs).toISOString()
      }), with no snapshot install or stop in its log then`,
    );
  }
  return out;
}
