/**
 * `concord ctl`: etcdctl's v3 commands, flags, outputs and exit codes, on lib/client. This
 * file finds the command (cobra's way: command words anywhere among the flags, unique
 * prefixes accepted), parses its flags with the global ones (and `ETCDCTL_*` variables),
 * runs it, and turns its failure into `Error: …` and etcdctl's exit code. Each group of
 * commands lives in its own file (ctl_kv.ts, ctl_lease.ts, …).
 */
import { ETCD_COMPAT_VERSION } from "../base/version.ts";
import {
  applyEnv,
  EnvConflictError,
  FlagError,
  flagToEnv,
  flagUsage,
  parseFlags,
} from "./ctl_flags.ts";
import { type CommandSpec, CtlContext, type CtlIo, GLOBAL_FLAGS } from "./ctl_command.ts";
import { CtlExit, Exit } from "./ctl_exit.ts";
import { StdinReader } from "./ctl_stdin.ts";
import { KV_COMMANDS } from "./ctl_kv.ts";
import { TXN_COMMAND } from "./ctl_txn.ts";
import { WATCH_COMMANDS } from "./ctl_watch.ts";
import { LEASE_COMMANDS } from "./ctl_lease.ts";
import { CLUSTER_COMMANDS } from "./ctl_cluster.ts";
import { MAINTENANCE_COMMANDS } from "./ctl_maintenance.ts";
import { AUTH_COMMANDS } from "./ctl_auth.ts";
import { CONCURRENCY_COMMANDS } from "./ctl_concurrency.ts";
import { MIRROR_COMMANDS } from "./ctl_mirror.ts";
import { CHECK_COMMANDS } from "./ctl_check.ts";
import { closeClient } from "./ctl_connect.ts";

const VERSION_COMMAND: CommandSpec = {
  path: ["version"],
  use: "",
  short: "Prints the version of etcdctl",
  flags: [],
  run(ctx) {
    ctx.out(`etcdctl version: ${ETCD_COMPAT_VERSION}\n`);
    ctx.out(`API version: ${ETCD_COMPAT_VERSION.split(".").slice(0, 2).join(".")}\n`);
    return Promise.resolve();
  },
};

/** Every command, in etcdctl's order. */
export const COMMANDS: CommandSpec[] = [
  ...KV_COMMANDS,
  TXN_COMMAND,
  ...WATCH_COMMANDS,
  ...LEASE_COMMANDS,
  ...CLUSTER_COMMANDS,
  ...MAINTENANCE_COMMANDS,
  ...AUTH_COMMANDS,
  ...CONCURRENCY_COMMANDS,
  ...MIRROR_COMMANDS,
  ...CHECK_COMMANDS,
  VERSION_COMMAND,
];

const GLOBAL_VALUE_FLAGS = new Set(
  GLOBAL_FLAGS.filter((f) => f.kind !== "bool").flatMap((f) =>
    f.short ? [`--${f.name}`, `-${f.short}`] : [`--${f.name}`]
  ),
);

/** The names one level below `prefix` in the command tree. */
function children(prefix: string[]): string[] {
  const out: string[] = [];
  for (const c of COMMANDS) {
    if (c.path.length <= prefix.length) continue;
    if (prefix.every((p, i) => c.path[i] === p) && !out.includes(c.path[prefix.length])) {
      out.push(c.path[prefix.length]);
    }
  }
  return out;
}

/** cobra's prefix matching: the exact name, or the one child the word is a prefix of. */
function matchChild(names: string[], word: string): string | undefined {
  if (names.includes(word)) return word;
  const hits = names.filter((n) => n.startsWith(word));
  return hits.length === 1 ? hits[0] : undefined;
}

function rootHelp(): string {
  return [
    "NAME:",
    "\tconcord ctl - etcdctl's commands on Concord's client",
    "",
    "USAGE:",
    "\tconcord ctl [flags] <command>",
    "",
    "COMMANDS:",
    ...COMMANDS.map((c) => `\t${c.path.join(" ").padEnd(28)}${c.short}`),
    "",
    "OPTIONS:",
    flagUsage(GLOBAL_FLAGS),
    "",
  ].join("\n");
}

function commandHelp(c: CommandSpec): string {
  return [
    "NAME:",
    `\t${c.path.join(" ")} - ${c.short}`,
    "",
    "USAGE:",
    `\tconcord ctl ${c.path.join(" ")} ${c.use}`,
    "",
    ...(c.flags.length > 0 ? ["OPTIONS:", flagUsage(c.flags), ""] : []),
    "GLOBAL OPTIONS:",
    flagUsage(GLOBAL_FLAGS),
    "",
  ].join("\n");
}

const enc = new TextEncoder();

/** capnslog's time stamp, "2006-01-02 15:04:05.000000" in local time. */
function capnslogTime(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}000`;
}

function writeAllSync(f: { writeSync(p: Uint8Array): number }, text: string | Uint8Array): void {
  let b = typeof text === "string" ? enc.encode(text) : text;
  while (b.length > 0) b = b.subarray(f.writeSync(b));
}

/** The process's own I/O: stdout/stderr, stdin, the environment and SIGINT/SIGTERM. */
function processIo(interrupt: AbortSignal): CtlIo {
  const stdin = new StdinReader(Deno.stdin.readable);
  return {
    out: (t) => writeAllSync(Deno.stdout, t),
    err: (t) => writeAllSync(Deno.stderr, t),
    stdin,
    env: Deno.env.toObject(),
    interrupt,
    terminal: Deno.stderr.isTerminal(),
    askPassword: Deno.stdin.isTerminal()
      ? async (prompt) => {
        writeAllSync(Deno.stdout, prompt);
        Deno.stdin.setRaw(true);
        try {
          return await stdin.readSecret();
        } finally {
          Deno.stdin.setRaw(false);
          writeAllSync(Deno.stdout, "\n");
        }
      }
      : undefined,
  };
}

/** A --user without a password (and no --password) is asked for one, as etcdctl asks. */
async function askUserPassword(ctx: CtlContext): Promise<void> {
  const user = ctx.flags.string("user");
  if (user === "" || user.includes(":") || ctx.flags.string("password") !== "") return;
  if (ctx.spec.path[0] === "version" || ctx.spec.path.join(" ") === "snapshot status") return;
  if (!ctx.io.askPassword) {
    throw new CtlExit(
      Exit.Error,
      "no terminal to ask the password on: give --user name:password or --password",
    );
  }
  ctx.typedPassword = await ctx.io.askPassword("Password: ");
}

/** The ETCDCTL_* variables etcdctl reads itself rather than as flags. */
const OWN_ENV = new Set(["ETCDCTL_API", "ETCDCTL_WATCH_KEY", "ETCDCTL_WATCH_RANGE_END"]);

/** etcd's pkg/flags warns of every ETCDCTL_* variable that names no global flag. */
function warnUnknownEnv(spec: CommandSpec, io: CtlIo): void {
  if (spec.path[0] === "version" || spec.path.join(" ") === "snapshot status") return;
  const known = new Set(GLOBAL_FLAGS.map((f) => flagToEnv("ETCDCTL", f.name)));
  for (const [k, v] of Object.entries(io.env)) {
    if (!k.startsWith("ETCDCTL_") || known.has(k) || OWN_ENV.has(k)) continue;
    io.err(
      `${capnslogTime(new Date())} W | pkg/flags: unrecognized environment variable ${k}=${v}\n`,
    );
  }
}

/**
 * Runs `concord ctl <args>` and returns its exit code. With `io`, everything goes through
 * it (tests run ctl in-process); without, through the process's stdio and signals.
 */
export async function runCtl(args: string[], io?: CtlIo): Promise<number> {
  if (io) return await runWith(args, io);
  const ac = new AbortController();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const onSignal = () => ac.abort(new CtlExit(Exit.Interrupted));
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  const pio = processIo(ac.signal);
  try {
    return await runWith(args, pio);
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
    await pio.stdin.release();
  }
}

async function runWith(args: string[], io: CtlIo): Promise<number> {
  // find the command words among the flags
  const rest = [...args];
  const path: string[] = [];
  let helpWanted = false;
  for (let i = 0; i < rest.length;) {
    const a = rest[i];
    if (a === "--") break;
    if (a === "-h" || a === "--help") {
      helpWanted = true;
      rest.splice(i, 1);
      continue;
    }
    if (a.startsWith("-")) {
      i += GLOBAL_VALUE_FLAGS.has(a) ? 2 : 1;
      continue;
    }
    const names = children(path);
    if (names.length === 0) break; // a leaf: the rest are its arguments
    const hit = matchChild(names, a);
    if (!hit && path.length > 0) break; // a group given an unknown word: cobra shows its help
    if (!hit) {
      if (a === "help") {
        helpWanted = true;
        rest.splice(i, 1);
        continue;
      }
      // cobra reports it, then etcdctl's main reports it again
      const where = `etcdctl${path.map((p) => " " + p).join("")}`;
      const msg = `unknown command "${a}" for "${where}"`;
      io.err(`Error: ${msg}\nRun '${where} --help' for usage.\nError: ${msg}\n`);
      return Exit.Error;
    }
    path.push(hit);
    rest.splice(i, 1);
  }
  const spec = COMMANDS.find((c) =>
    c.path.length === path.length && c.path.every((p, i) => p === path[i])
  );
  if (!spec) {
    // no command, or a group without its subcommand: cobra prints the help
    io.out(
      path.length === 0
        ? rootHelp()
        : COMMANDS.filter((c) => path.every((p, i) => c.path[i] === p)).map((c) =>
          `\t${c.path.join(" ").padEnd(28)}${c.short}`
        ).join("\n") + "\n",
    );
    return Exit.Success;
  }
  if (helpWanted) {
    io.out(commandHelp(spec));
    return Exit.Success;
  }
  const specs = [
    ...spec.flags,
    ...GLOBAL_FLAGS.filter((g) => !spec.flags.some((f) => f.name === g.name)),
  ];
  let ctx: CtlContext;
  try {
    const flags = parseFlags(rest, specs);
    applyEnv(flags, GLOBAL_FLAGS.map((f) => f.name), io.env);
    ctx = new CtlContext(spec, flags, io, rest);
    warnUnknownEnv(spec, io);
  } catch (err) {
    if (err instanceof EnvConflictError) {
      io.err(`${capnslogTime(new Date())} C | pkg/flags: ${err.message}\n`);
      return Exit.Error;
    }
    if (err instanceof FlagError) {
      // cobra prints the error and the usage, then etcdctl's main prints the error again
      io.err(`Error: ${err.message}\n\n`);
      io.out(commandHelp(spec));
      io.err(`Error: ${err.message}\n`);
      return Exit.Error;
    }
    throw err;
  }
  try {
    if (ctx.flags.string("discovery-srv") !== "") {
      throw new CtlExit(
        Exit.BadFeature,
        "DNS discovery (--discovery-srv) is not supported by concord ctl",
      );
    }
    if (ctx.flags.bool("debug")) {
      for (const f of GLOBAL_FLAGS) {
        const v = ctx.flags.values.get(f.name);
        io.err(`${flagToEnv("ETCDCTL", f.name)}=${Array.isArray(v) ? `[${v.join(",")}]` : v}\n`);
      }
    }
    await askUserPassword(ctx);
    await spec.run(ctx);
    return Exit.Success;
  } catch (err) {
    if (err instanceof CtlExit) {
      if (err.printed) io.err(`Error: ${err.message}\n`);
      return err.code;
    }
    if (err instanceof FlagError) {
      io.err(`Error: ${err.message}\n`);
      return Exit.BadArgs;
    }
    throw err;
  } finally {
    await closeClient(ctx);
  }
}
