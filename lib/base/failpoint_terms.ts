/**
 * Fault points armed by etcd's gofail terms, as etcd's GOFAIL_FAILPOINTS variable arms them in
 * a real process (`concord serve` reads CONCORD_FAILPOINTS): `name=terms;name2=terms`, where
 * terms are `term->term->…` and a term is `[N*]action[(arg)]`. The actions Concord runs:
 * `off` (nothing), `panic` (the process dies at once, no cleanup, as under kill -9), `sleep(N)`
 * or `sleep("1s")` (N ms; only at a delay point) and `return("text")` (an error with that
 * text; only at an error point). A term with a count runs that many hits, then the next term
 * takes over; after the last term the point is off. Anything else (gofail's `p%`, `print`,
 * `break`, `pause`, an unknown point, sleep where Concord cannot wait) is refused when the
 * variable is read (and by the HTTP endpoint's PUT, lib/cli/serve_failpoints_http.ts, with
 * the same reason), so a test never runs with a point it believes armed but is not.
 */
import {
  ALL_FAULT_POINTS,
  DELAY_POINTS,
  type DelayPoint,
  ERROR_POINTS,
  type FaultPoint,
  FaultPointError,
  type FaultPoints,
} from "./fault_points.ts";

/** One term of a point's chain. */
export type FailTerm =
  | { action: "off"; count: number }
  | { action: "panic"; count: number }
  | { action: "sleep"; count: number; ms: number }
  | { action: "return"; count: number; text: string };

/** A bad CONCORD_FAILPOINTS value: the whole value is refused. */
export class FailpointSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FailpointSpecError";
  }
}

const isDelay = (p: FaultPoint): p is DelayPoint => (DELAY_POINTS as readonly string[]).includes(p);
const isError = (p: FaultPoint) => (ERROR_POINTS as readonly string[]).includes(p);

/** A Go duration of one unit, as gofail's sleep("…") takes it: "250ms", "1s", "1.5s". */
function parseDuration(s: string): number | null {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m)$/.exec(s);
  if (m === null) return null;
  const unit = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000 }[m[2]]!;
  return Number(m[1]) * unit;
}

function parseTerm(point: FaultPoint, text: string): FailTerm {
  const m = /^(?:([0-9]+)\*)?([a-z]+)(?:\((.*)\))?$/.exec(text);
  if (m === null) {
    throw new FailpointSpecError(
      `${point}: cannot parse term "${text}" (the form is [N*]action[(arg)]; ` +
        `a probability p% is not supported)`,
    );
  }
  const count = m[1] === undefined ? Infinity : Number(m[1]);
  const action = m[2];
  const arg = m[3];
  switch (action) {
    case "off":
    case "panic":
      if (arg !== undefined) throw new FailpointSpecError(`${point}: ${action} takes no argument`);
      return { action, count };
    case "sleep": {
      if (!isDelay(point)) {
        throw new FailpointSpecError(
          `${point}: sleep is supported only at ${DELAY_POINTS.join(", ")} ` +
            `(elsewhere the code cannot wait without stopping the whole process)`,
        );
      }
      const ms = arg === undefined
        ? null
        : /^[0-9]+$/.test(arg)
        ? Number(arg)
        : /^"(.*)"$/.test(arg)
        ? parseDuration(arg.slice(1, -1))
        : null;
      if (ms === null) {
        throw new FailpointSpecError(
          `${point}: sleep takes milliseconds or a quoted duration, as sleep(100) or sleep("1s")`,
        );
      }
      return { action, count, ms };
    }
    case "return": {
      if (!isError(point)) {
        throw new FailpointSpecError(
          `${point}: return is supported only at ${ERROR_POINTS.join(", ")}`,
        );
      }
      const t = arg === undefined ? "" : /^"(.*)"$/.exec(arg)?.[1] ?? arg;
      return { action, count, text: t };
    }
    default:
      throw new FailpointSpecError(
        `${point}: action "${action}" is not supported (off, panic, sleep, return are)`,
      );
  }
}

/** The fault point of that name (names are etcd's, case and typo included), or undefined. */
export function findFaultPoint(name: string): FaultPoint | undefined {
  return ALL_FAULT_POINTS.find((p) => p === name);
}

/**
 * One point's terms (`term->term->…`, as gofail's HTTP endpoint takes them in a PUT's body);
 * throws FailpointSpecError on anything it cannot run, as for CONCORD_FAILPOINTS.
 */
export function parsePointTerms(point: FaultPoint, text: string): FailTerm[] {
  return text.trim().split("->").map((t) => parseTerm(point, t.trim()));
}

/** One armed point as given: its terms, and their text (what gofail's status shows). */
export interface ArmedTerms {
  terms: FailTerm[];
  desc: string;
}

/**
 * Reads a CONCORD_FAILPOINTS value (or the body of gofail's `PUT /failpoints`), keeping each
 * point's text as given; throws FailpointSpecError on anything it cannot run.
 */
export function parseFailpointSpec(value: string): Map<FaultPoint, ArmedTerms> {
  const out = new Map<FaultPoint, ArmedTerms>();
  for (const part of value.split(";")) {
    const entry = part.trim();
    if (entry === "") continue;
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new FailpointSpecError(`"${entry}": expected name=terms`);
    const name = entry.slice(0, eq).trim();
    const point = findFaultPoint(name);
    if (point === undefined) {
      throw new FailpointSpecError(
        `no fault point "${name}"; the points: ${ALL_FAULT_POINTS.join(", ")}`,
      );
    }
    if (out.has(point)) throw new FailpointSpecError(`${point} is given twice`);
    const desc = entry.slice(eq + 1).trim();
    out.set(point, { terms: parsePointTerms(point, desc), desc });
  }
  return out;
}

/** Reads a CONCORD_FAILPOINTS value; throws FailpointSpecError on anything it cannot run. */
export function parseFailpoints(value: string): Map<FaultPoint, FailTerm[]> {
  return new Map([...parseFailpointSpec(value)].map(([p, a]) => [p, a.terms]));
}

/** What a point did, for the process's log. */
export interface FailpointFired {
  point: FaultPoint;
  term: FailTerm;
}

/** How the terms reach the process. */
export interface TermFaultPointsHooks {
  /** `panic`: the process dies now, without returning (kill -9 of itself). */
  die(point: FaultPoint): never;
  /** A term other than `off` ran (a sleep, a returned error); before `die` too. */
  fired?(f: FailpointFired): void;
}

/** One point's state: the terms left, their text, and how many hits ran a term. */
interface PointState {
  terms: FailTerm[];
  desc: string;
  count: number;
}

/**
 * Fault points that run parsed gofail terms. Points may be armed, re-armed and disarmed while
 * the member runs (gofail's HTTP endpoint: lib/cli/serve_failpoints_http.ts); a hit reads the
 * point's terms as they are at that moment.
 */
export class TermFaultPoints implements FaultPoints {
  readonly #points = new Map<FaultPoint, PointState>();
  readonly #hooks: TermFaultPointsHooks;
  /** The sleep the last hit of each delay point asked for, taken by `delay`. */
  readonly #pending = new Map<DelayPoint, number>();

  constructor(terms: Map<FaultPoint, FailTerm[]>, hooks: TermFaultPointsHooks) {
    this.#hooks = hooks;
    for (const [p, ts] of terms) this.arm(p, ts, describeTerms(ts));
  }

  /**
   * Arms `point` with `terms` (replacing what it had, counts afresh, as gofail's Enable);
   * `desc` is their text as given, for `status`.
   */
  arm(point: FaultPoint, terms: readonly FailTerm[], desc: string): void {
    // counts are used up: a copy, so the caller's terms stay as parsed
    this.#points.set(point, { terms: terms.map((t) => ({ ...t })), desc, count: 0 });
    if (isDelay(point)) this.#pending.delete(point);
  }

  /** Disarms `point`; false if it was not armed (gofail's ErrDisabled). */
  disarm(point: FaultPoint): boolean {
    if (isDelay(point)) this.#pending.delete(point);
    return this.#points.delete(point);
  }

  /**
   * An armed point's terms as given and how many hits ran one of them (an `off` term too, as
   * gofail counts); undefined if it is not armed. A point whose terms ran out stays armed
   * (and does nothing), as in gofail, until disarmed.
   */
  status(point: FaultPoint): { desc: string; count: number } | undefined {
    const s = this.#points.get(point);
    return s === undefined ? undefined : { desc: s.desc, count: s.count };
  }

  hit(point: FaultPoint): void {
    const s = this.#points.get(point);
    if (s === undefined) return;
    const terms = s.terms;
    while (terms.length > 0 && terms[0].count <= 0) terms.shift();
    const t = terms[0];
    if (t === undefined) return;
    t.count--;
    s.count++;
    if (t.action === "off") return;
    this.#hooks.fired?.({ point, term: t });
    switch (t.action) {
      case "panic":
        this.#hooks.die(point);
        break;
      case "sleep":
        if (isDelay(point)) this.#pending.set(point, t.ms);
        break;
      case "return":
        throw new FaultPointError(point, t.text === "" ? `failpoint ${point}` : t.text);
    }
  }

  delay(point: DelayPoint): number {
    const ms = this.#pending.get(point) ?? 0;
    this.#pending.delete(point);
    return ms;
  }
}

/** One point's terms in etcd's form. */
function describeTerms(ts: readonly FailTerm[]): string {
  const one = (t: FailTerm) =>
    (t.count === Infinity ? "" : `${t.count}*`) +
    (t.action === "sleep"
      ? `sleep(${t.ms})`
      : t.action === "return"
      ? `return(${JSON.stringify(t.text)})`
      : t.action);
  return ts.map(one).join("->");
}

/** One line per armed point, for the process's log at start. */
export function describeFailpoints(terms: Map<FaultPoint, FailTerm[]>): string {
  return [...terms].map(([p, ts]) => `${p}=${describeTerms(ts)}`).join(";");
}
