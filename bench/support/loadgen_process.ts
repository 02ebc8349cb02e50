/**
 * The load generator (bench/loadgen/main.ts) as a child process, as every bench script that
 * drives a server runs it: one spawn, one way to read its JSON result and one way to fail, so
 * the scripts' figures come from the same command line and a generator that failed is never
 * read as a result.
 */
import type { LoadgenResult } from "../loadgen/main.ts";

/** This checkout's root (ends with "/"). */
export const ROOT = new URL("../..", import.meta.url).pathname;
/** The deno that runs this script: the generator runs on the same one. */
export const DENO = Deno.execPath();

/** The key and value shape of bench:compare's workloads (docs/perf.md's figures use it). */
export const COMMON = ["--key-size=8", "--val-size=256", "--key-space-size=100000"];

/** bench:compare's put-1000: the profilers' default workload. */
export const PUT_1000 = ["put", "--clients=1000", "--conns=100", ...COMMON];

/** One run of the generator. */
export interface LoadgenRun {
  /** The workload and its flags (bench/loadgen/main.ts's arguments but the endpoints). */
  args: string[];
  /** Comma-separated host:port or URLs of the server. */
  endpoints: string;
  /** The checkout whose generator runs (a baseline's); this one by default. */
  root?: string;
  /** Adds --json: the last line of stdout is the LoadgenResult. */
  json?: boolean;
  /** "null" for a run whose report no one reads. */
  stdout?: "piped" | "null";
}

/** Starts the generator; stderr is piped, for the caller to report on failure. */
export function spawnLoadgen(run: LoadgenRun): Deno.ChildProcess {
  const root = run.root ?? ROOT;
  return new Deno.Command(DENO, {
    args: [
      "run",
      "-A",
      `${root}bench/loadgen/main.ts`,
      ...run.args,
      `--endpoints=${run.endpoints}`,
      ...(run.json ? ["--json"] : []),
    ],
    cwd: root,
    stdout: run.stdout ?? "piped",
    stderr: "piped",
  }).spawn();
}

/** Why a finished generator failed, or undefined when it exited 0. */
export function loadgenFailure(out: Deno.CommandOutput): string | undefined {
  if (out.success) return undefined;
  const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" | ");
  return `load generator exit ${out.code}${out.signal ? ` (${out.signal})` : ""}: ${err}`;
}

/** Runs the generator to its end and returns its stdout; a failed run throws with its errors. */
export async function runLoadgen(run: LoadgenRun): Promise<string> {
  const out = await spawnLoadgen(run).output();
  const failure = loadgenFailure(out);
  if (failure !== undefined) throw new Error(failure);
  return run.stdout === "null" ? "" : new TextDecoder().decode(out.stdout);
}

/**
 * The LoadgenResult a `--json` run printed as its last line; output without one throws (a
 * generator that printed something else did not finish its run).
 */
export function loadgenResult(stdout: string): LoadgenResult {
  const line = stdout.trim().split("\n").pop() ?? "";
  if (!line.startsWith("{")) throw new Error(`load generator printed no result: ${line}`);
  return JSON.parse(line) as LoadgenResult;
}

/** The workload's flags with its --total multiplied by `scale` (at least 1). */
export function scaleTotal(args: string[], scale: number): string[] {
  return args.map((a) =>
    a.startsWith("--total=") ? `--total=${Math.max(1, Math.round(Number(a.slice(8)) * scale))}` : a
  );
}

/** The workload's flags with --total set to `total`. */
export function withTotal(args: string[], total: number): string[] {
  return [...args.filter((a) => !a.startsWith("--total=")), `--total=${total}`];
}

/**
 * A profiler's command line, `[own flags] [-- <workload>]`: its own flags and the workload
 * (PUT_1000 when none follows "--").
 */
export function splitWorkload(argv: string[]): { own: string[]; workload: string[] } {
  const dashes = argv.indexOf("--");
  return dashes >= 0
    ? { own: argv.slice(0, dashes), workload: argv.slice(dashes + 1) }
    : { own: argv, workload: PUT_1000 };
}
