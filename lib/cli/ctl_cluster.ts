/**
 * `ctl member …`, `endpoint health|status|hashkv` (with `--cluster`) and `move-leader`
 * (etcdctl's member_command.go, ep_command.go, move_leader_command.go). Per-endpoint calls
 * get a client of their own on that endpoint, as etcdctl dials each one.
 */
import type { CommandSpec, CtlContext } from "./ctl_command.ts";
import { CtlExit, errorText, Exit, exitWith } from "./ctl_exit.ts";
import { type FlagSpec, formatGoDuration, parseUint64 } from "./ctl_flags.ts";
import { goQuote } from "./ctl_gofmt.ts";
import type { EpHashKV, EpHealth, EpStatus } from "./ctl_print.ts";
import { SimplePrinter } from "./ctl_print_simple.ts";
import { client, connect, endpointsOf, newClient } from "./ctl_connect.ts";
import { Errors, EtcdError } from "../base/errors.ts";

const CLUSTER_FLAG: FlagSpec = {
  name: "cluster",
  kind: "bool",
  def: false,
  help: "use all endpoints from the cluster member list",
};

function memberId(arg: string): bigint {
  try {
    return parseUint64(arg, 16);
  } catch (err) {
    throw new CtlExit(
      Exit.BadArgs,
      `bad member ID arg (${(err as Error).message}), expecting ID in Hex`,
    );
  }
}

/** etcdctl's endpointsFromCluster: --endpoints, or with --cluster every member's client URLs. */
export async function endpointsFromCluster(ctx: CtlContext): Promise<string[]> {
  if (!ctx.flags.bool("cluster")) return endpointsOf(ctx);
  const c = newClient(ctx, endpointsOf(ctx), { auth: false });
  let resp;
  try {
    resp = await c.cluster.list(ctx.callOptions());
  } catch (err) {
    throw new CtlExit(
      Exit.Error,
      `failed to fetch endpoints from etcd cluster member list: ${errorText(err)}`,
    );
  }
  return resp.members.flatMap((m) => m.clientURLs);
}

async function runMemberList(ctx: CtlContext): Promise<void> {
  const c = await client(ctx);
  let resp;
  try {
    resp = await c.cluster.list(ctx.callOptions());
  } catch (err) {
    exitWith(Exit.Error, err);
  }
  ctx.printer.memberList(resp);
}

async function runMemberAdd(ctx: CtlContext): Promise<void> {
  const args = ctx.args;
  if (args.length < 1) throw new CtlExit(Exit.BadArgs, "member name not provided");
  if (args.length > 1) {
    let ev = "too many arguments";
    for (const s of args) {
      if (s.toLowerCase().startsWith("http")) ev += `, did you mean --peer-urls=${s}`;
    }
    throw new CtlExit(Exit.BadArgs, ev);
  }
  const name = args[0];
  const peerUrls = ctx.flags.string("peer-urls");
  if (peerUrls.length === 0) throw new CtlExit(Exit.BadArgs, "member peer urls not provided");
  const urls = peerUrls.split(",");
  const c = await client(ctx);
  let resp;
  try {
    resp = await c.cluster.add(urls, {
      isLearner: ctx.flags.bool("learner"),
      ...ctx.callOptions(),
    });
  } catch (err) {
    exitWith(Exit.Error, err);
  }
  const newId = resp.member?.ID;
  ctx.printer.memberAdd(resp);
  if (ctx.printer instanceof SimplePrinter) {
    const conf: string[] = [];
    for (const m of resp.members) {
      for (const u of m.peerURLs) conf.push(`${m.ID === newId ? name : m.name}=${u}`);
    }
    ctx.out("\n");
    ctx.out(`ETCD_NAME=${goQuote(name)}\n`);
    ctx.out(`ETCD_INITIAL_CLUSTER=${goQuote(conf.join(","))}\n`);
    ctx.out(`ETCD_INITIAL_ADVERTISE_PEER_URLS=${goQuote(peerUrls)}\n`);
    ctx.out(`ETCD_INITIAL_CLUSTER_STATE="existing"\n`);
  }
}

async function runMemberRemove(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 1) throw new CtlExit(Exit.BadArgs, "member ID is not provided");
  const id = memberId(ctx.args[0]);
  const c = await client(ctx);
  let resp;
  try {
    resp = await c.cluster.remove(id, ctx.callOptions());
  } catch (err) {
    exitWith(Exit.Error, err);
  }
  ctx.printer.memberRemove(id, resp);
}

async function runMemberUpdate(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 1) throw new CtlExit(Exit.BadArgs, "member ID is not provided");
  const id = memberId(ctx.args[0]);
  const peerUrls = ctx.flags.string("peer-urls");
  if (peerUrls.length === 0) throw new CtlExit(Exit.BadArgs, "member peer urls not provided");
  const c = await client(ctx);
  let resp;
  try {
    resp = await c.cluster.update(id, peerUrls.split(","), ctx.callOptions());
  } catch (err) {
    exitWith(Exit.Error, err);
  }
  ctx.printer.memberUpdate(id, resp);
}

async function runMemberPromote(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 1) throw new CtlExit(Exit.BadArgs, "member ID is not provided");
  const id = memberId(ctx.args[0]);
  const c = await client(ctx);
  let resp;
  try {
    resp = await c.cluster.promote(id, ctx.callOptions());
  } catch (err) {
    exitWith(Exit.Error, err);
  }
  ctx.printer.memberPromote(id, resp);
}

async function runHealth(ctx: CtlContext): Promise<void> {
  const eps = await endpointsFromCluster(ctx);
  const list: EpHealth[] = await Promise.all(eps.map(async (ep) => {
    // etcdctl makes a client per endpoint; one that cannot authenticate is unhealthy
    let c;
    try {
      c = await connect(ctx, [ep]);
    } catch (err) {
      if (!(err instanceof CtlExit)) throw err;
      return { ep, health: false, took: "", error: err.message };
    }
    const start = performance.now();
    let error = "";
    try {
      await c.kv.range("health", ctx.callOptions());
    } catch (err) {
      // permission denied is healthy: the request went through consensus to be refused
      if (!(err instanceof EtcdError && Errors.permissionDenied.is(err))) {
        error = errorText(err);
      }
    }
    const took = formatGoDuration(performance.now() - start);
    return { ep, health: error === "", took, error };
  }));
  ctx.printer.endpointHealth(list);
  if (list.some((h) => h.error !== "")) throw new CtlExit(Exit.Error, "unhealthy cluster");
}

async function runStatus(ctx: CtlContext): Promise<void> {
  const eps = await endpointsFromCluster(ctx);
  await client(ctx); // authenticates once, as etcdctl's client for these calls
  const list: EpStatus[] = [];
  let failed = false;
  for (const ep of eps) {
    try {
      const resp = await newClient(ctx, [ep]).maintenance.status(ctx.callOptions());
      list.push({ ep, resp });
    } catch (err) {
      failed = true;
      ctx.err(`Failed to get the status of endpoint ${ep} (${errorText(err)})\n`);
    }
  }
  ctx.printer.endpointStatus(list);
  if (failed) throw new CtlExit(Exit.Error);
}

async function runHashKV(ctx: CtlContext): Promise<void> {
  const eps = await endpointsFromCluster(ctx);
  await client(ctx); // authenticates once, as etcdctl's client for these calls
  const list: EpHashKV[] = [];
  let last: unknown;
  for (const ep of eps) {
    try {
      const resp = await newClient(ctx, [ep]).maintenance.hashKV(ctx.flags.int("rev"), {
        ...ctx.callOptions(),
      });
      list.push({ ep, resp });
    } catch (err) {
      last = err;
      ctx.err(`Failed to get the hash of endpoint ${ep} (${errorText(err)})\n`);
    }
  }
  ctx.printer.endpointHashKV(list);
  if (last !== undefined) exitWith(Exit.Error, last);
}

async function runMoveLeader(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 1) {
    throw new CtlExit(Exit.BadArgs, "move-leader command needs 1 argument");
  }
  let target: bigint;
  try {
    target = parseUint64(ctx.args[0], 16);
  } catch (err) {
    exitWith(Exit.BadArgs, err);
  }
  await client(ctx);
  const eps = endpointsOf(ctx);
  const o = ctx.callOptions();
  let leader: { id: bigint; ep: string } | undefined;
  for (const ep of eps) {
    let resp;
    try {
      resp = await newClient(ctx, [ep]).maintenance.status(o);
    } catch (err) {
      exitWith(Exit.Error, err);
    }
    if (resp.header?.memberId === resp.leader) {
      leader = { id: resp.leader, ep };
      break;
    }
  }
  if (!leader) {
    throw new CtlExit(Exit.BadArgs, `no leader endpoint given at [${eps.join(" ")}]`);
  }
  let resp;
  try {
    resp = await newClient(ctx, [leader.ep]).maintenance.moveLeader(target, o);
  } catch (err) {
    exitWith(Exit.Error, err);
  }
  ctx.printer.moveLeader(leader.id, target, resp);
}

export const CLUSTER_COMMANDS: CommandSpec[] = [
  {
    path: ["member", "add"],
    use: "<memberName> [options]",
    short: "Adds a member into the cluster",
    flags: [
      {
        name: "peer-urls",
        kind: "string",
        def: "",
        help: "comma separated peer URLs for the new member.",
      },
      {
        name: "learner",
        kind: "bool",
        def: false,
        help: "indicates if the new member is raft learner",
      },
    ],
    run: runMemberAdd,
  },
  {
    path: ["member", "remove"],
    use: "<memberID>",
    short: "Removes a member from the cluster",
    flags: [],
    run: runMemberRemove,
  },
  {
    path: ["member", "update"],
    use: "<memberID> [options]",
    short: "Updates a member in the cluster",
    flags: [{
      name: "peer-urls",
      kind: "string",
      def: "",
      help: "comma separated peer URLs for the updated member.",
    }],
    run: runMemberUpdate,
  },
  {
    path: ["member", "list"],
    use: "",
    short: "Lists all members in the cluster",
    flags: [],
    run: runMemberList,
  },
  {
    path: ["member", "promote"],
    use: "<memberID>",
    short: "Promotes a non-voting member in the cluster",
    flags: [],
    run: runMemberPromote,
  },
  {
    path: ["endpoint", "health"],
    use: "",
    short: "Checks the healthiness of endpoints specified in `--endpoints` flag",
    flags: [CLUSTER_FLAG],
    run: runHealth,
  },
  {
    path: ["endpoint", "status"],
    use: "",
    short: "Prints out the status of endpoints specified in `--endpoints` flag",
    flags: [CLUSTER_FLAG],
    run: runStatus,
  },
  {
    path: ["endpoint", "hashkv"],
    use: "",
    short: "Prints the KV history hash for each endpoint in --endpoints",
    flags: [CLUSTER_FLAG, {
      name: "rev",
      kind: "int",
      def: 0n,
      help: "maximum revision to hash (default: all revisions)",
    }],
    run: runHashKV,
  },
  {
    path: ["move-leader"],
    use: "<transferee-member-id>",
    short: "Transfers leadership to another etcd cluster member.",
    flags: [],
    run: runMoveLeader,
  },
];
