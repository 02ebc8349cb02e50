/**
 * `ctl alarm list|disarm`, `defrag [--cluster]`, `snapshot save|status` (etcdctl's
 * alarm_command.go, defrag_command.go, snapshot_command.go). `snapshot save` writes to
 * `<file>.part` and renames when the download (page file plus SHA-256) is complete, as
 * etcdctl does; `snapshot status` is `concord util snapshot status` in etcdctl's formats.
 */
import { create } from "@bufbuild/protobuf";
import { AlarmMemberSchema } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { CommandSpec, CtlContext } from "./ctl_command.ts";
import { CtlExit, errorText, Exit, exitWith } from "./ctl_exit.ts";
import type { AlarmResp } from "./ctl_print.ts";
import { client, endpointsOf, newClient } from "./ctl_connect.ts";
import { endpointsFromCluster } from "./ctl_cluster.ts";
import { snapshotStatus } from "./util_snapshot.ts";
import type { SnapshotProgress } from "../client/maintenance.ts";
import { humanBytes } from "./ctl_gofmt.ts";
import { RealDisk } from "../io/real_disk.ts";

async function runAlarmList(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 0) {
    throw new CtlExit(Exit.BadArgs, "alarm list command accepts no arguments");
  }
  const c = await client(ctx);
  let resp;
  try {
    resp = await c.maintenance.alarms(ctx.callOptions());
  } catch (err) {
    exitWith(Exit.Error, err);
  }
  ctx.printer.alarm(resp);
}

async function runAlarmDisarm(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 0) {
    throw new CtlExit(Exit.BadArgs, "alarm disarm command accepts no arguments");
  }
  const c = await client(ctx);
  // clientv3's AlarmDisarm with an empty AlarmMember: every active alarm is listed and
  // disarmed one by one; the answer is a header-less response with what they returned
  const resp: AlarmResp = { alarms: [] };
  try {
    const list = await c.maintenance.alarms(ctx.callOptions());
    for (const a of list.alarms) {
      const r = await c.maintenance.disarm(
        create(AlarmMemberSchema, { memberID: a.memberID, alarm: a.alarm }),
        ctx.callOptions(),
      );
      resp.alarms.push(...r.alarms);
    }
  } catch (err) {
    exitWith(Exit.Error, err);
  }
  ctx.printer.alarm(resp);
}

async function runDefrag(ctx: CtlContext): Promise<void> {
  if (ctx.flags.string("data-dir") !== "") {
    throw new CtlExit(
      Exit.BadFeature,
      "defrag --data-dir (offline) is not supported by concord ctl; defragment a running member",
    );
  }
  let failures = 0;
  const eps = await endpointsFromCluster(ctx);
  await client(ctx);
  for (const ep of eps) {
    try {
      await newClient(ctx, [ep]).maintenance.defragment(ctx.callOptions());
      ctx.out(`Finished defragmenting etcd member[${ep}]\n`);
    } catch (err) {
      ctx.err(`Failed to defragment etcd member[${ep}] (${errorText(err)})\n`);
      failures++;
    }
  }
  if (failures !== 0) throw new CtlExit(Exit.Error);
}

async function runSnapshotSave(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 1) throw new CtlExit(Exit.BadArgs, "snapshot save expects one argument");
  const eps = endpointsOf(ctx);
  if (eps.length !== 1) {
    throw new CtlExit(
      Exit.Interrupted,
      `snapshot must be requested to one selected node, not multiple [${eps.join(" ")}]`,
    );
  }
  const path = ctx.args[0];
  const part = `${path}.part`;
  const c = newClient(ctx, eps);
  const o = ctx.flags.changed.has("command-timeout")
    ? ctx.callOptions()
    : { signal: ctx.io.interrupt };
  const file = await Deno.open(part, { write: true, create: true, truncate: true });
  try {
    // on a terminal, the bytes received so far (etcdctl 3.5+ draws a progress bar)
    const onProgress = ctx.io.terminal
      ? (p: SnapshotProgress) =>
        ctx.err(
          `\rsnapshot: ${humanBytes(p.received)} received, ${
            humanBytes(Number(p.remaining))
          } left\x1b[K`,
        )
      : undefined;
    for await (const chunk of c.maintenance.snapshot({ ...o, onProgress })) {
      let b = chunk;
      while (b.length > 0) b = b.subarray(await file.write(b));
    }
    await file.sync();
    if (ctx.io.terminal) ctx.err("\n");
  } catch (err) {
    file.close();
    await Deno.remove(part);
    exitWith(Exit.Interrupted, err);
  }
  file.close();
  await Deno.rename(part, path);
  ctx.out(`Snapshot saved at ${path}\n`);
}

async function runSnapshotStatus(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 1) {
    throw new CtlExit(Exit.BadArgs, "snapshot status requires exactly one argument");
  }
  const printer = ctx.printer;
  let s;
  try {
    s = await snapshotStatus(new RealDisk(), ctx.args[0]);
  } catch (err) {
    exitWith(Exit.Error, err);
  }
  printer.dbStatus(s);
}

export const MAINTENANCE_COMMANDS: CommandSpec[] = [
  {
    path: ["alarm", "disarm"],
    use: "",
    short: "Disarms all alarms",
    flags: [],
    run: runAlarmDisarm,
  },
  { path: ["alarm", "list"], use: "", short: "Lists all alarms", flags: [], run: runAlarmList },
  {
    path: ["defrag"],
    use: "",
    short: "Defragments the storage of the etcd members with given endpoints",
    flags: [
      {
        name: "cluster",
        kind: "bool",
        def: false,
        help: "use all endpoints from the cluster member list",
      },
      {
        name: "data-dir",
        kind: "string",
        def: "",
        help: "Optional. If present, defragments a data directory not in use by etcd.",
      },
    ],
    run: runDefrag,
  },
  {
    path: ["snapshot", "save"],
    use: "<filename>",
    short: "Stores an etcd node backend snapshot to a given file",
    flags: [],
    run: runSnapshotSave,
  },
  {
    path: ["snapshot", "status"],
    use: "<filename>",
    short: "Gets backend snapshot status of a given file",
    flags: [],
    run: runSnapshotStatus,
  },
];
