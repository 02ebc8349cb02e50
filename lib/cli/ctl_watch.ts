/**
 * `ctl watch` (etcdctl's watch_command.go): watch a key, range or prefix and print each
 * response; with `-- command args`, run the command once per event with ETCD_WATCH_*
 * variables; with `-i`, read `watch …` lines from stdin and run each watch concurrently, and
 * `progress` lines asking every open watch for a progress notification (etcdctl 3.5).
 * ETCDCTL_WATCH_KEY / ETCDCTL_WATCH_RANGE_END stand in for the key arguments. The watch ends
 * only when the server cancels it (exit 5, as etcdctl) or on interrupt.
 */
import type { Client } from "../client/client.ts";
import { isProgressNotify, type WatchOptions } from "../client/watch.ts";
import type { CommandSpec, CtlContext } from "./ctl_command.ts";
import { CtlExit, errorText, Exit, exitWith } from "./ctl_exit.ts";
import { FlagError, type FlagSpec, parseFlags } from "./ctl_flags.ts";
import { goQuote } from "./ctl_gofmt.ts";
import type { WatchResp } from "./ctl_print.ts";
import { argify } from "./ctl_txn.ts";
import { client } from "./ctl_connect.ts";

export const WATCH_FLAGS: FlagSpec[] = [
  { name: "interactive", short: "i", kind: "bool", def: false, help: "Interactive mode" },
  { name: "prefix", kind: "bool", def: false, help: "Watch on a prefix if prefix is set" },
  { name: "rev", kind: "int", def: 0n, help: "Revision to start watching" },
  {
    name: "prev-kv",
    kind: "bool",
    def: false,
    help: "get the previous key-value pair before the event happens",
  },
  {
    name: "progress-notify",
    kind: "bool",
    def: false,
    help: "get periodic watch progress notification from server (etcdctl 3.5)",
  },
];

const errBadArgsNum = "bad number of arguments";
const errBadArgsNumConflictEnv = "bad number of arguments (found conflicting environment key)";
const errBadArgsNumSeparator = "bad number of arguments (found separator --, but no commands)";

const enc = new TextEncoder();

interface WatchSpec {
  key: Uint8Array;
  opts: WatchOptions;
}

/** etcdctl's getWatchChan arguments check. */
function watchSpec(
  args: string[],
  prefix: boolean,
  rev: bigint,
  prevKv: boolean,
  progressNotify = false,
): WatchSpec {
  if (args.length < 1) throw new Error(errBadArgsNum);
  const opts: WatchOptions = {};
  if (rev !== 0n) opts.startRevision = rev;
  if (args.length === 2) {
    if (prefix) throw new Error("`range_end` and `--prefix` are mutually exclusive");
    opts.end = enc.encode(args[1]);
  }
  if (prefix) opts.prefix = true;
  if (prevKv) opts.prevKv = true;
  if (progressNotify) opts.progressNotify = true;
  return { key: enc.encode(args[0]), opts };
}

/** Runs `execArgs` for one event, its output going to ctl's stdout and stderr. */
async function runForEvent(
  ctx: CtlContext,
  execArgs: string[],
  revision: bigint,
  ev: WatchResp["events"][number],
): Promise<void> {
  const env = {
    ...ctx.io.env,
    ETCD_WATCH_REVISION: String(revision),
    ETCD_WATCH_EVENT_TYPE: goQuote(ev.type === 1 ? "DELETE" : "PUT"),
    ETCD_WATCH_KEY: goQuote(ev.kv?.key ?? new Uint8Array()),
    ETCD_WATCH_VALUE: goQuote(ev.kv?.value ?? new Uint8Array()),
  };
  let failure: string | undefined;
  try {
    const r = await new Deno.Command(execArgs[0], {
      args: execArgs.slice(1),
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    ctx.out(dec.decode(r.stdout));
    ctx.err(dec.decode(r.stderr));
    if (!r.success) failure = `exit status ${r.code}`;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    failure = `exec: ${goQuote(execArgs[0])}: executable file not found in $PATH`;
  }
  if (failure !== undefined) {
    ctx.err(`command [${execArgs.map((a) => goQuote(a)).join(" ")}] error (${failure})\n`);
    throw new CtlExit(Exit.Error);
  }
}

/** Prints one watch until it ends; returns normally when the server (or client) ended it. */
async function printWatch(
  ctx: CtlContext,
  c: Client,
  spec: WatchSpec,
  execArgs: string[],
): Promise<void> {
  const w = c.watch(spec.key, { ...spec.opts, signal: ctx.io.interrupt });
  try {
    for await (const r of w) {
      const resp: WatchResp = r;
      if (isProgressNotify(r)) {
        ctx.out(`progress notify: ${resp.header?.revision ?? 0n}\n`);
      }
      ctx.printer.watch(resp);
      for (const ev of resp.events) {
        if (execArgs.length > 0) await runForEvent(ctx, execArgs, resp.header?.revision ?? 0n, ev);
      }
    }
  } catch (err) {
    if (err instanceof CtlExit) throw err;
    if (ctx.io.interrupt.aborted) return;
    ctx.err(`watch was canceled (${errorText(err)})\n`);
  }
}

async function runWatch(ctx: CtlContext): Promise<void> {
  const envKey = ctx.io.env["ETCDCTL_WATCH_KEY"] ?? "";
  const envRange = ctx.io.env["ETCDCTL_WATCH_RANGE_END"] ?? "";
  if (envKey === "" && envRange !== "") {
    throw new CtlExit(
      Exit.BadArgs,
      `ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END=${goQuote(envRange)}`,
    );
  }
  if (ctx.flags.bool("interactive")) return await watchInteractive(ctx, envKey, envRange);

  const f = ctx.flags;
  const before = f.dashAt < 0 ? f.positional : f.positional.slice(0, f.dashAt);
  const execArgs = f.dashAt < 0 ? [] : f.positional.slice(f.dashAt);
  if (f.dashAt >= 0 && execArgs.length === 0) {
    throw new CtlExit(Exit.BadArgs, errBadArgsNumSeparator);
  }
  if (envKey !== "" && before.length > 0) throw new CtlExit(Exit.BadArgs, errBadArgsNumConflictEnv);
  const args = envKey !== "" ? [envKey, ...(envRange !== "" ? [envRange] : []), ...before] : before;
  if (args.length < 1) throw new CtlExit(Exit.BadArgs, errBadArgsNum);
  let spec: WatchSpec;
  try {
    spec = watchSpec(
      args,
      f.bool("prefix"),
      f.int("rev"),
      f.bool("prev-kv"),
      f.bool("progress-notify"),
    );
  } catch (err) {
    exitWith(Exit.BadArgs, err);
  }
  const c = await client(ctx);
  await printWatch(ctx, c, spec, execArgs);
  if (ctx.io.interrupt.aborted) throw new CtlExit(130);
  throw new CtlExit(Exit.Interrupted, "watch is canceled by the server");
}

async function watchInteractive(ctx: CtlContext, envKey: string, envRange: string): Promise<void> {
  const c = await client(ctx);
  // a watcher whose command fails ends the run (etcdctl exits from its goroutine)
  const failed = Promise.withResolvers<never>();
  const stop = new Promise<"stop">((res) => {
    if (ctx.io.interrupt.aborted) res("stop");
    ctx.io.interrupt.addEventListener("abort", () => res("stop"), { once: true });
  });
  for (;;) {
    const got = await Promise.race([ctx.io.stdin.readLine(), stop, failed.promise]);
    if (got === "stop") throw new CtlExit(130);
    if (got.eof) {
      throw new CtlExit(Exit.InvalidInput, `Error reading watch request line: EOF`);
    }
    const l = got.line.replace(/\n$/, "");
    const args = argify(l);
    if (args.length < 1) {
      ctx.err(`Invalid command: ${l} (watch and progress supported)\n`);
      continue;
    }
    if (args[0] === "progress") {
      // etcdctl 3.5: one progress request for the watches open so far; each prints the
      // notification it receives
      try {
        c.requestProgress();
      } catch (err) {
        exitWith(Exit.Error, err);
      }
      continue;
    }
    if (args[0] !== "watch") {
      ctx.err(`Invalid command ${l} (only support watch)\n`);
      continue;
    }
    if (args.length < 2 && envKey === "") {
      ctx.err(`Invalid command ${l} (command type or key is not provided)\n`);
      continue;
    }
    let wf;
    try {
      wf = parseFlags(args.slice(1), WATCH_FLAGS);
    } catch (err) {
      if (err instanceof FlagError) exitWith(Exit.BadArgs, err);
      throw err;
    }
    const before = wf.dashAt < 0 ? wf.positional : wf.positional.slice(0, wf.dashAt);
    const execArgs = wf.dashAt < 0 ? [] : wf.positional.slice(wf.dashAt);
    if (wf.dashAt >= 0 && execArgs.length === 0) {
      throw new CtlExit(Exit.BadArgs, errBadArgsNumSeparator);
    }
    if (wf.dashAt < 0 && envKey === "" && before.length < 1) {
      throw new CtlExit(Exit.BadArgs, errBadArgsNum);
    }
    if (wf.dashAt < 0 && before.length > 0 && envKey !== "") {
      throw new CtlExit(Exit.BadArgs, errBadArgsNumConflictEnv);
    }
    const wargs = envKey !== ""
      ? [envKey, ...(envRange !== "" ? [envRange] : []), ...before]
      : before;
    let spec: WatchSpec;
    try {
      spec = watchSpec(
        wargs,
        wf.bool("prefix"),
        wf.int("rev"),
        wf.bool("prev-kv"),
        wf.bool("progress-notify"),
      );
    } catch (err) {
      ctx.err(`Invalid command ${l} (${(err as Error).message})\n`);
      continue;
    }
    printWatch(ctx, c, spec, execArgs).catch(failed.reject);
  }
}

export const WATCH_COMMANDS: CommandSpec[] = [{
  path: ["watch"],
  use: "[options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]",
  short: "Watches events stream on keys or prefixes",
  flags: WATCH_FLAGS,
  run: runWatch,
}];
