/**
 * `ctl make-mirror <destination>` (etcdctl's make_mirror_command.go with clientv3's mirror
 * syncer): copies every key under --prefix as of one revision to the destination cluster
 * (renamed under --dest-prefix, or to the root with --no-dest-prefix), then follows the
 * source's changes from the next revision, applying each revision's events as one txn.
 * Every 30 s it prints how many keys it has mirrored. It runs until interrupted; like
 * etcdctl, it ends with `Error: <nil>` when the source stops the watch.
 */
import type { RequestOp } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { op } from "../client/ops.ts";
import { rangeEndOfPrefix } from "../client/bytes.ts";
import type { CommandSpec, CtlContext } from "./ctl_command.ts";
import { CtlExit, Exit, exitWith } from "./ctl_exit.ts";
import type { FlagSpec } from "./ctl_flags.ts";
import { client, newClient } from "./ctl_connect.ts";

const enc = new TextEncoder();
const BATCH = 1000n;

/** Go's strings.Replace(key, from, to, 1) on bytes. */
export function replaceFirst(key: Uint8Array, from: Uint8Array, to: Uint8Array): Uint8Array {
  let at = -1;
  for (let i = 0; i + from.length <= key.length; i++) {
    let ok = true;
    for (let j = 0; j < from.length && ok; j++) ok = key[i + j] === from[j];
    if (ok) {
      at = i;
      break;
    }
  }
  if (at < 0) return key;
  const out = new Uint8Array(key.length - from.length + to.length);
  out.set(key.subarray(0, at));
  out.set(to, at);
  out.set(key.subarray(at + from.length), at + to.length);
  return out;
}

async function runMakeMirror(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 1) {
    throw new CtlExit(Exit.BadArgs, "make-mirror takes one destination argument");
  }
  const f = ctx.flags;
  const prefix = enc.encode(f.string("prefix"));
  if (f.bool("no-dest-prefix") && f.string("dest-prefix").length > 0) {
    throw new CtlExit(
      Exit.BadArgs,
      "`--dest-prefix` and `--no-dest-prefix` cannot be set at the same time, choose one",
    );
  }
  const dest = enc.encode(
    !f.bool("no-dest-prefix") && f.string("dest-prefix") === ""
      ? f.string("prefix")
      : f.string("dest-prefix"),
  );
  const rename = (k: Uint8Array) => replaceFirst(k, prefix, dest);
  const dc = newClient(ctx, [ctx.args[0]], {
    auth: false,
    tls: {
      cert: f.string("dest-cert"),
      key: f.string("dest-key"),
      cacert: f.string("dest-cacert"),
      insecure: f.bool("dest-insecure-transport"),
    },
  });
  const c = await client(ctx);
  const signal = ctx.io.interrupt;
  let total = 0;
  const timer = setInterval(() => ctx.out(`${total}\n`), 30_000);
  try {
    // the base: every key under the prefix as of one revision, in batches
    const span = prefix.length === 0 ? { fromKey: true } : { prefix: true };
    const first = prefix.length === 0 ? new Uint8Array([0]) : prefix;
    const head = await c.kv.range(first, { ...span, limit: 1, signal });
    const rev = head.header?.revision ?? 0n;
    let from = first;
    let more = true;
    while (more) {
      const end = prefix.length === 0 ? new Uint8Array([0]) : rangeEndOfPrefix(prefix);
      const r = await c.kv.range(from, { end, revision: rev, limit: BATCH, signal });
      for (const kv of r.kvs) {
        await dc.kv.put(rename(kv.key), kv.value, { signal });
        total++;
      }
      more = r.more;
      if (more) from = new Uint8Array([...r.kvs[r.kvs.length - 1].key, 0]);
    }
    // then the changes, one txn per revision
    const w = c.watch(first, { ...span, startRevision: rev + 1n, signal });
    for await (const wr of w) {
      let ops: RequestOp[] = [];
      let lastRev = 0n;
      for (const ev of wr.events) {
        const next = ev.kv?.modRevision ?? 0n;
        if (lastRev !== 0n && next > lastRev) {
          await dc.kv.txn().then(...ops).commit({ signal });
          ops = [];
        }
        lastRev = next;
        const key = rename(ev.kv?.key ?? new Uint8Array());
        ops.push(ev.type === 1 ? op.delete(key) : op.put(key, ev.kv?.value ?? new Uint8Array()));
        total++;
      }
      if (ops.length > 0) await dc.kv.txn().then(...ops).commit({ signal });
    }
  } catch (err) {
    if (signal.aborted) throw new CtlExit(130);
    exitWith(Exit.Error, err);
  } finally {
    clearInterval(timer);
  }
  if (signal.aborted) throw new CtlExit(130);
  throw new CtlExit(Exit.Error, "<nil>");
}

const FLAGS: FlagSpec[] = [
  { name: "prefix", kind: "string", def: "", help: "Key-value prefix to mirror" },
  {
    name: "dest-prefix",
    kind: "string",
    def: "",
    help: "destination prefix to mirror a prefix to a different prefix in the destination cluster",
  },
  {
    name: "no-dest-prefix",
    kind: "bool",
    def: false,
    help: "mirror key-values to the root of the destination cluster",
  },
  {
    name: "dest-cert",
    kind: "string",
    def: "",
    help: "Identify secure client using this TLS certificate file for the destination cluster",
  },
  {
    name: "dest-key",
    kind: "string",
    def: "",
    help: "Identify secure client using this TLS key file",
  },
  {
    name: "dest-cacert",
    kind: "string",
    def: "",
    help: "Verify certificates of TLS enabled secure servers using this CA bundle",
  },
  {
    name: "dest-insecure-transport",
    kind: "bool",
    def: true,
    help: "Disable transport security for client connections",
  },
];

export const MIRROR_COMMANDS: CommandSpec[] = [{
  path: ["make-mirror"],
  use: "[options] <destination>",
  short: "Makes a mirror at the destination etcd cluster",
  flags: FLAGS,
  run: runMakeMirror,
}];
