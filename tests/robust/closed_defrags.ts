/**
 * Defrags a member refused as `backend is closed`, checked against its log. A member stopping
 * closes the backend a defrag is copying; a snapshot install no longer fails one (the call
 * defragments the backend the install opened: lib/server/maintenance_server.ts, as etcd's old
 * backend waits for the defrag before it closes). A real run cannot see inside the member, so
 * each such failure must be explained by the member's own log (any incarnation, read once the
 * cluster stopped): the member shutting down meanwhile. Anything else is a violation.
 */

/** A defrag refused as `backend is closed`, with its call and return on the wall clock. */
export interface ClosedDefrag {
  member: number;
  callMs: number;
  retMs: number;
}

/** Slack on the wall clock between this process's reading and the member's log. */
const SLACK_MS = 50;

/** One log line's message and time, if it is a JSON log line. */
function parseLine(line: string): { msg: string; ts: number } {
  const none = { msg: "", ts: NaN };
  if (!line.startsWith("{")) return none;
  let j: { msg?: string; ts?: string };
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
  };
}

/** What in `log` explains a defrag of its member closed between `callMs` and `retMs`. */
export function explainClosedDefrag(log: string, d: ClosedDefrag): string | null {
  for (const line of log.split("\n")) {
    const l = parseLine(line);
    if (!(l.ts >= d.callMs - SLACK_MS)) continue;
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
      }, returned ${new Date(d.retMs).toISOString()}), with no stop in its log then`,
    );
  }
  return out;
}
