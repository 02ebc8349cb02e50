/**
 * `ctl lock <name> [command …]` and `ctl elect <name> [proposal] | -l` (etcdctl's
 * lock_command.go, elect_command.go): a session lease kept alive for the run, the lock or
 * campaign through etcd's v3lock/v3election services (which hold the same `<name>/<lease>`
 * keys clientv3's concurrency recipes make), the held key printed as `get` prints it, and
 * the lock released / leadership resigned on interrupt. With a command, lock runs it with
 * ETCD_LOCK_KEY and ETCD_LOCK_REV and unlocks when it exits.
 */
import type { Client } from "../client/client.ts";
import type { KeepAlive } from "../client/lease.ts";
import type { CommandSpec, CtlContext } from "./ctl_command.ts";
import { CtlExit, Exit, exitWith } from "./ctl_exit.ts";
import { client } from "./ctl_connect.ts";

const dec = new TextDecoder();

/** A lease kept alive for the run (clientv3's concurrency.Session). */
async function session(c: Client, ttl: number): Promise<{ id: bigint; ka: KeepAlive }> {
  let id: bigint;
  try {
    id = (await c.lease.grant(ttl)).ID;
  } catch (err) {
    exitWith(Exit.Error, err);
  }
  return { id, ka: c.lease.keepAlive(id) };
}

/** Resolves "interrupt" on SIGINT/SIGTERM, "expired" when the session's lease is gone. */
function waitEnd(ctx: CtlContext, ka: KeepAlive): Promise<"interrupt" | "expired"> {
  return new Promise((resolve) => {
    if (ctx.io.interrupt.aborted) return resolve("interrupt");
    ctx.io.interrupt.addEventListener("abort", () => resolve("interrupt"), { once: true });
    ka.done.then(() => resolve("expired"), () => resolve("expired"));
  });
}

async function runLock(ctx: CtlContext): Promise<void> {
  if (ctx.args.length === 0) {
    throw new CtlExit(
      Exit.BadArgs,
      "lock takes a lock name argument and an optional command to execute",
    );
  }
  const [name, ...cmdArgs] = ctx.args;
  const c = await client(ctx);
  const printer = ctx.printer;
  const s = await session(c, Number(ctx.flags.int("ttl")));
  try {
    let lock;
    try {
      lock = await c.lock.lock(name, s.id, { signal: ctx.io.interrupt });
    } catch (err) {
      if (ctx.io.interrupt.aborted) throw new CtlExit(130);
      exitWith(Exit.Error, err);
    }
    if (cmdArgs.length > 0) {
      const r = await new Deno.Command(cmdArgs[0], {
        args: cmdArgs.slice(1),
        env: {
          ...ctx.io.env,
          ETCD_LOCK_KEY: dec.decode(lock.key),
          ETCD_LOCK_REV: String(lock.header?.revision ?? 0n),
        },
        clearEnv: true,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      ctx.out(dec.decode(r.stdout));
      ctx.err(dec.decode(r.stderr));
      try {
        await c.lock.unlock(lock.key);
      } catch (err) {
        if (r.success) exitWith(Exit.Error, err);
      }
      if (!r.success) throw new CtlExit(Exit.Error, `exit status ${r.code}`);
      return;
    }
    let held;
    try {
      held = await c.kv.range(lock.key, { signal: ctx.io.interrupt });
    } catch (err) {
      exitWith(Exit.Error, err);
    }
    if (held.kvs.length === 0) throw new CtlExit(Exit.Error, "lock lost on init");
    printer.get(held);
    if (await waitEnd(ctx, s.ka) === "expired") throw new CtlExit(Exit.Error, "session expired");
    try {
      await c.lock.unlock(lock.key);
    } catch (err) {
      exitWith(Exit.Error, err);
    }
  } finally {
    // as etcdctl, the session is not closed: its lease runs out after the TTL
    s.ka.cancel();
  }
}

async function runElect(ctx: CtlContext): Promise<void> {
  const args = ctx.args;
  if (args.length !== 1 && args.length !== 2) {
    throw new CtlExit(
      Exit.BadArgs,
      "elect takes one election name argument and an optional proposal argument",
    );
  }
  const listen = ctx.flags.bool("listen");
  if (args.length === 1 && !listen) {
    throw new CtlExit(Exit.BadArgs, "no proposal argument but -l not set");
  }
  if (args.length === 2 && listen) throw new CtlExit(Exit.BadArgs, "proposal given but -l is set");
  const c = await client(ctx);
  const printer = ctx.printer;
  if (listen) {
    try {
      for await (const r of c.election.observe(args[0], { signal: ctx.io.interrupt })) {
        printer.get({
          header: r.header,
          kvs: r.kv ? [r.kv] : [],
          more: false,
          count: r.kv ? 1n : 0n,
        });
      }
    } catch (err) {
      if (ctx.io.interrupt.aborted) return;
      exitWith(Exit.Error, err);
    }
    if (ctx.io.interrupt.aborted) return;
    throw new CtlExit(Exit.Error, "elect: observer lost");
  }
  const s = await session(c, 60);
  try {
    let leader;
    try {
      leader = await c.election.campaign(args[0], s.id, args[1], { signal: ctx.io.interrupt });
    } catch (err) {
      if (ctx.io.interrupt.aborted) throw new CtlExit(130);
      exitWith(Exit.Error, err);
    }
    const key = leader.leader?.key ?? new Uint8Array();
    let held;
    try {
      held = await c.kv.range(key, { signal: ctx.io.interrupt });
    } catch (err) {
      exitWith(Exit.Error, err);
    }
    printer.get(held);
    if (await waitEnd(ctx, s.ka) === "expired") {
      throw new CtlExit(Exit.Error, "elect: session expired");
    }
    if (leader.leader) {
      try {
        await c.election.resign(leader.leader);
      } catch (err) {
        exitWith(Exit.Error, err);
      }
    }
  } finally {
    s.ka.cancel();
  }
}

export const CONCURRENCY_COMMANDS: CommandSpec[] = [
  {
    path: ["lock"],
    use: "<lockname> [exec-command arg1 arg2 ...]",
    short: "Acquires a named lock",
    flags: [{ name: "ttl", kind: "int", def: 10n, help: "timeout for session" }],
    run: runLock,
  },
  {
    path: ["elect"],
    use: "<election-name> [proposal]",
    short: "Observes and participates in leader election",
    flags: [{ name: "listen", short: "l", kind: "bool", def: false, help: "observation mode" }],
    run: runElect,
  },
];
