/**
 * `ctl lease grant|revoke|timetolive|list|keep-alive` (etcdctl's lease_command.go): lease
 * ids in hex on input and output, etcdctl's messages and exit codes (timetolive, list and
 * keep-alive fail with ExitBadConnection, as etcdctl's do).
 */
import type { CommandSpec, CtlContext } from "./ctl_command.ts";
import { CtlExit, errorText, Exit, exitWith } from "./ctl_exit.ts";
import { FlagError, parseInt64 } from "./ctl_flags.ts";
import { hex016 } from "./ctl_gofmt.ts";
import { SimplePrinter } from "./ctl_print_simple.ts";
import { client } from "./ctl_connect.ts";

/** etcdctl's leaseFromArgs: a hex int64. */
export function leaseFromArg(arg: string): bigint {
  try {
    return parseInt64(arg, 16);
  } catch (err) {
    if (err instanceof FlagError) {
      throw new CtlExit(Exit.BadArgs, `bad lease ID arg (${err.message}), expecting ID in Hex`);
    }
    throw err;
  }
}

async function runGrant(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 1) {
    throw new CtlExit(Exit.BadArgs, "lease grant command needs TTL argument");
  }
  let ttl: bigint;
  try {
    ttl = parseInt64(ctx.args[0]);
  } catch (err) {
    throw new CtlExit(Exit.BadArgs, `bad TTL (${(err as Error).message})`);
  }
  const c = await client(ctx);
  let resp;
  try {
    resp = await c.lease.grant(Number(ttl), ctx.callOptions());
  } catch (err) {
    throw new CtlExit(Exit.Error, `failed to grant lease (${errorText(err)})`);
  }
  ctx.printer.grant(resp);
}

async function runRevoke(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 1) {
    throw new CtlExit(Exit.BadArgs, "lease revoke command needs 1 argument");
  }
  const id = leaseFromArg(ctx.args[0]);
  const c = await client(ctx);
  let resp;
  try {
    resp = await c.lease.revoke(id, ctx.callOptions());
  } catch (err) {
    throw new CtlExit(Exit.Error, `failed to revoke lease (${errorText(err)})`);
  }
  ctx.printer.revoke(id, resp);
}

async function runTimeToLive(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 1) {
    throw new CtlExit(Exit.BadArgs, "lease timetolive command needs lease ID as argument");
  }
  const id = leaseFromArg(ctx.args[0]);
  const keys = ctx.flags.bool("keys");
  const c = await client(ctx);
  let resp;
  try {
    resp = await c.lease.timeToLive(id, { keys, signal: ctx.io.interrupt });
  } catch (err) {
    exitWith(Exit.BadConnection, err);
  }
  ctx.printer.timeToLive(resp, keys);
}

async function runList(ctx: CtlContext): Promise<void> {
  const c = await client(ctx);
  let resp;
  try {
    resp = await c.lease.leases({ signal: ctx.io.interrupt });
  } catch (err) {
    exitWith(Exit.BadConnection, err);
  }
  ctx.printer.leases(resp);
}

async function runKeepAlive(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 1) {
    throw new CtlExit(Exit.BadArgs, "lease keep-alive command needs lease ID as argument");
  }
  const id = leaseFromArg(ctx.args[0]);
  const c = await client(ctx);
  if (ctx.flags.bool("once")) {
    let resp;
    try {
      resp = await c.lease.keepAliveOnce(id, { signal: ctx.io.interrupt });
    } catch (err) {
      exitWith(Exit.BadConnection, err);
    }
    ctx.printer.keepAlive(resp);
    return;
  }
  const printer = ctx.printer;
  const ka = c.lease.keepAlive(id, { onRenew: (r) => printer.keepAlive(r) });
  const onAbort = () => ka.cancel();
  ctx.io.interrupt.addEventListener("abort", onAbort, { once: true });
  try {
    await ka.done;
  } catch (err) {
    // the lease expired or was revoked: etcdctl's channel closes and it says so
    if (!(err instanceof Error)) throw err;
  } finally {
    ctx.io.interrupt.removeEventListener("abort", onAbort);
  }
  if (ctx.io.interrupt.aborted) throw new CtlExit(130);
  if (printer instanceof SimplePrinter) ctx.out(`lease ${hex016(id)} expired or revoked.\n`);
}

export const LEASE_COMMANDS: CommandSpec[] = [
  { path: ["lease", "grant"], use: "<ttl>", short: "Creates leases", flags: [], run: runGrant },
  {
    path: ["lease", "revoke"],
    use: "<leaseID>",
    short: "Revokes leases",
    flags: [],
    run: runRevoke,
  },
  {
    path: ["lease", "timetolive"],
    use: "<leaseID> [options]",
    short: "Get lease information",
    flags: [{ name: "keys", kind: "bool", def: false, help: "Get keys attached to this lease" }],
    run: runTimeToLive,
  },
  { path: ["lease", "list"], use: "", short: "List all active leases", flags: [], run: runList },
  {
    path: ["lease", "keep-alive"],
    use: "[options] <leaseID>",
    short: "Keeps leases alive (renew)",
    flags: [{
      name: "once",
      kind: "bool",
      def: false,
      help: "Resets the keep-alive time to its original value and exits immediately",
    }],
    run: runKeepAlive,
  },
];
