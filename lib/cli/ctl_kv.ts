/**
 * `ctl get`, `put`, `del` and `compaction` (etcdctl's get/put/del/compaction_command.go):
 * the same argument checks, messages and exit codes, and the op builders `txn` reuses for
 * its request lines.
 */
import type {
  DeleteOptions,
  KeySpan,
  PutOptions,
  RangeOptions,
  SortTarget,
} from "../client/ops.ts";
import type { CommandSpec, CtlContext } from "./ctl_command.ts";
import { CtlExit, Exit, exitWith } from "./ctl_exit.ts";
import { FlagError, type FlagSpec, type ParsedFlags, parseInt64 } from "./ctl_flags.ts";
import { goQuote } from "./ctl_gofmt.ts";
import { SimplePrinter } from "./ctl_print_simple.ts";
import { FieldsPrinter } from "./ctl_print_fields.ts";
import { client } from "./ctl_connect.ts";
import type { RangeResponse } from "../../proto/gen/etcdserverpb/rpc_pb.ts";

const enc = new TextEncoder();

export const GET_FLAGS: FlagSpec[] = [
  { name: "consistency", kind: "string", def: "l", help: "Linearizable(l) or Serializable(s)" },
  {
    name: "order",
    kind: "string",
    def: "",
    help: "Order of results; ASCEND or DESCEND (ASCEND by default)",
  },
  {
    name: "sort-by",
    kind: "string",
    def: "",
    help: "Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION",
  },
  { name: "limit", kind: "int", def: 0n, help: "Maximum number of results" },
  { name: "prefix", kind: "bool", def: false, help: "Get keys with matching prefix" },
  {
    name: "from-key",
    kind: "bool",
    def: false,
    help: "Get keys that are greater than or equal to the given key using byte compare",
  },
  { name: "rev", kind: "int", def: 0n, help: "Specify the kv revision" },
  { name: "keys-only", kind: "bool", def: false, help: "Get only the keys" },
  { name: "count-only", kind: "bool", def: false, help: "Get only the count (etcdctl 3.5)" },
  {
    name: "print-value-only",
    kind: "bool",
    def: false,
    help: 'Only write values when using the "simple" output format',
  },
];

/** `get --stream` (etcdctl 3.7's flag; not in txn's get lines, where it means nothing). */
const STREAM_FLAG: FlagSpec = {
  name: "stream",
  kind: "bool",
  def: false,
  help: "Use the RangeStream RPC: the range comes in chunks (beyond etcdctl 3.4: etcdctl " +
    "3.7's flag; etcd servers before 3.7 answer Unimplemented)",
};

export const PUT_FLAGS: FlagSpec[] = [
  {
    name: "lease",
    kind: "string",
    def: "0",
    help: "lease ID (in hexadecimal) to attach to the key",
  },
  {
    name: "prev-kv",
    kind: "bool",
    def: false,
    help: "return the previous key-value pair before modification",
  },
  {
    name: "ignore-value",
    kind: "bool",
    def: false,
    help: "updates the key using its current value",
  },
  {
    name: "ignore-lease",
    kind: "bool",
    def: false,
    help: "updates the key using its current lease",
  },
];

export const DEL_FLAGS: FlagSpec[] = [
  { name: "prefix", kind: "bool", def: false, help: "delete keys with matching prefix" },
  { name: "prev-kv", kind: "bool", def: false, help: "return deleted key-value pairs" },
  {
    name: "from-key",
    kind: "bool",
    def: false,
    help: "delete keys that are greater than or equal to the given key using byte compare",
  },
  { name: "range", kind: "bool", def: false, help: "delete range of keys (etcdctl 3.5)" },
];

const badArgs = (msg: string) => new CtlExit(Exit.BadArgs, msg);

/** get's and del's --prefix and --from-key (etcdctl refuses both at once). */
interface SpanFlags {
  prefix: boolean;
  fromKey: boolean;
}

function spanFlags(f: ParsedFlags): SpanFlags {
  const prefix = f.bool("prefix");
  const fromKey = f.bool("from-key");
  if (prefix && fromKey) {
    throw badArgs("`--prefix` and `--from-key` cannot be set at the same time, choose one");
  }
  return { prefix, fromKey };
}

/** A second argument, the range end: refused beside --prefix or --from-key. */
function rangeEndArg(arg: string, span: SpanFlags): Uint8Array {
  if (span.prefix || span.fromKey) {
    throw badArgs(
      "too many arguments, only accept one argument when `--prefix` or `--from-key` is set",
    );
  }
  return enc.encode(arg);
}

/**
 * Applies --prefix or --from-key to `opts` and returns the key to send: an empty key with
 * either means every key (clientv3 sends "\0" from-key).
 */
function spanKey(key: Uint8Array, opts: KeySpan, span: SpanFlags): Uint8Array {
  if (span.prefix) {
    if (key.length > 0) {
      opts.prefix = true;
      return key;
    }
    opts.fromKey = true;
    return new Uint8Array([0]);
  }
  if (span.fromKey) {
    opts.fromKey = true;
    return key.length === 0 ? new Uint8Array([0]) : key;
  }
  return key;
}

/** A key (or range) and the options of a get: etcdctl's getGetOp. */
export function getOp(args: string[], f: ParsedFlags): { key: Uint8Array; opts: RangeOptions } {
  if (args.length === 0) {
    throw badArgs("get command needs one argument as key and an optional argument as range_end");
  }
  const span = spanFlags(f);
  const opts: RangeOptions = {};
  const consistency = f.string("consistency");
  if (consistency === "s") opts.serializable = true;
  else if (consistency !== "l") {
    throw new CtlExit(Exit.BadFeature, `unknown consistency flag ${goQuote(consistency)}`);
  }
  if (args.length > 1) opts.end = rangeEndArg(args[1], span);
  opts.limit = f.int("limit");
  if (f.int("rev") > 0n) opts.revision = f.int("rev");

  const order = f.string("order").toUpperCase();
  if (order !== "" && order !== "ASCEND" && order !== "DESCEND") {
    throw new CtlExit(Exit.BadFeature, `bad sort order ${f.string("order")}`);
  }
  const targets: Record<string, SortTarget> = {
    CREATE: "create",
    KEY: "key",
    MODIFY: "mod",
    VALUE: "value",
    VERSION: "version",
    "": "key",
  };
  const target = targets[f.string("sort-by").toUpperCase()];
  if (target === undefined) {
    throw new CtlExit(Exit.BadFeature, `bad sort target ${f.string("sort-by")}`);
  }
  // clientv3's WithSort: ascending by key is the server's own order (no sort asked); any
  // other target without an order sorts ascending on the server
  if (order === "DESCEND") opts.sort = { target, order: "descend" };
  else if (target !== "key") opts.sort = { target, order: "ascend" };

  const key = spanKey(enc.encode(args[0]), opts, span);
  if (f.bool("keys-only") && f.bool("count-only")) {
    throw badArgs("`--keys-only` and `--count-only` cannot be set at the same time, choose one");
  }
  if (f.bool("keys-only")) opts.keysOnly = true;
  if (f.bool("count-only")) opts.countOnly = true;
  return { key, opts };
}

/** etcdctl's getPutOp; `stdinValue` reads the value when only the key is given. */
export async function putOp(
  args: string[],
  f: ParsedFlags,
  stdinValue: () => Promise<Uint8Array>,
): Promise<{ key: Uint8Array; value: Uint8Array; opts: PutOptions }> {
  const needs = "put command needs 1 argument and input from stdin or 2 arguments";
  if (args.length === 0) throw badArgs(needs);
  const key = enc.encode(args[0]);
  const ignoreValue = f.bool("ignore-value");
  if (ignoreValue && args.length > 1) {
    throw badArgs("put command needs only 1 argument when 'ignore-value' is set");
  }
  let value: Uint8Array = new Uint8Array(0);
  if (!ignoreValue) {
    if (args.length > 1) value = enc.encode(args[1]);
    else {
      value = await stdinValue();
      if (value.length === 0) throw badArgs(needs);
    }
  }
  let id: bigint;
  try {
    id = parseInt64(f.string("lease"), 16);
  } catch (err) {
    throw badArgs(`bad lease ID (${(err as Error).message}), expecting ID in Hex`);
  }
  const opts: PutOptions = {};
  if (id !== 0n) opts.lease = id;
  if (f.bool("prev-kv")) opts.prevKv = true;
  if (ignoreValue) opts.ignoreValue = true;
  if (f.bool("ignore-lease")) opts.ignoreLease = true;
  return { key, value, opts };
}

/** etcdctl's getDelOp. */
export function delOp(args: string[], f: ParsedFlags): { key: Uint8Array; opts: DeleteOptions } {
  if (args.length === 0 || args.length > 2) {
    throw badArgs("del command needs one argument as key and an optional argument as range_end");
  }
  const span = spanFlags(f);
  const opts: DeleteOptions = {};
  if (args.length > 1) opts.end = rangeEndArg(args[1], span);
  const key = spanKey(enc.encode(args[0]), opts, span);
  if (f.bool("prev-kv")) opts.prevKv = true;
  return { key, opts };
}

async function runGet(ctx: CtlContext): Promise<void> {
  const { key, opts } = getOp(ctx.args, ctx.flags);
  const c = await client(ctx);
  const printer = ctx.printer;
  const stream = ctx.flags.bool("stream");
  let resp;
  try {
    if (stream && printer instanceof SimplePrinter && !ctx.flags.bool("count-only")) {
      // the simple format prints kvs only: each chunk as it comes, nothing held
      if (ctx.flags.bool("print-value-only")) printer.valueOnly = true;
      for await (const chunk of c.kv.rangeStream(key, { ...opts, ...ctx.callOptions() })) {
        printer.get(chunk);
      }
      return;
    }
    resp = stream
      ? await mergeChunks(c.kv.rangeStream(key, { ...opts, ...ctx.callOptions() }))
      : await c.kv.range(key, { ...opts, ...ctx.callOptions() });
  } catch (err) {
    exitWith(Exit.Error, err);
  }
  if (ctx.flags.bool("count-only") && !(printer instanceof FieldsPrinter)) {
    throw badArgs("--count-only is only for `--write-out=fields`");
  }
  if (ctx.flags.bool("print-value-only")) {
    if (!(printer instanceof SimplePrinter)) {
      throw badArgs("print-value-only is only for `--write-out=simple`");
    }
    printer.valueOnly = true;
  }
  printer.get(resp);
}

/** etcdctl's GetStreamToGetResponse: the chunks merged into the one response Range gives. */
async function mergeChunks(chunks: AsyncIterable<RangeResponse>): Promise<RangeResponse> {
  let out: RangeResponse | undefined;
  for await (const c of chunks) {
    if (out === undefined) out = c;
    else {
      out.kvs.push(...c.kvs);
      if (c.header) out.header = c.header;
      out.more = c.more;
      out.count = c.count;
    }
  }
  if (out === undefined) throw new Error("RangeStream ended without a chunk");
  return out;
}

async function runPut(ctx: CtlContext): Promise<void> {
  const { key, value, opts } = await putOp(ctx.args, ctx.flags, () => ctx.io.stdin.readAll());
  const c = await client(ctx);
  let resp;
  try {
    resp = await c.kv.put(key, value, { ...opts, ...ctx.callOptions() });
  } catch (err) {
    exitWith(Exit.Error, err);
  }
  ctx.printer.put(resp);
}

async function runDel(ctx: CtlContext): Promise<void> {
  const { key, opts } = delOp(ctx.args, ctx.flags);
  const c = await client(ctx);
  let resp;
  try {
    resp = await c.kv.delete(key, { ...opts, ...ctx.callOptions() });
  } catch (err) {
    exitWith(Exit.Error, err);
  }
  ctx.printer.del(resp);
}

async function runCompaction(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 1) throw badArgs("compaction command needs 1 argument");
  let rev: bigint;
  try {
    rev = parseInt64(ctx.args[0]);
  } catch (err) {
    if (err instanceof FlagError) exitWith(Exit.Error, err);
    throw err;
  }
  const c = await client(ctx);
  try {
    await c.kv.compact(rev, { physical: ctx.flags.bool("physical"), ...ctx.callOptions() });
  } catch (err) {
    exitWith(Exit.Error, err);
  }
  ctx.out(`compacted revision ${rev}\n`);
}

export const KV_COMMANDS: CommandSpec[] = [
  {
    path: ["get"],
    use: "[options] <key> [range_end]",
    short: "Gets the key or a range of keys",
    flags: [...GET_FLAGS, STREAM_FLAG],
    run: runGet,
  },
  {
    path: ["put"],
    use: "[options] <key> <value> (<value> can also be given from stdin)",
    short: "Puts the given key into the store",
    flags: PUT_FLAGS,
    run: runPut,
  },
  {
    path: ["del"],
    use: "[options] <key> [range_end]",
    short: "Removes the specified key or range of keys [key, range_end)",
    flags: DEL_FLAGS,
    run: runDel,
  },
  {
    path: ["compaction"],
    use: "[options] <revision>",
    short: "Compacts the event history in etcd",
    flags: [
      {
        name: "physical",
        kind: "bool",
        def: false,
        help: "'true' to wait for compaction to physically remove all old revisions",
      },
    ],
    run: runCompaction,
  },
];
