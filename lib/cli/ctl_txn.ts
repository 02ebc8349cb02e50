/**
 * `ctl txn [-i]` (etcdctl's txn_command.go): reads the compares, then the success ops, then
 * the failure ops from stdin, each block ended by an empty line, and commits them as one
 * transaction. Compare lines are `target("key") op "value"`; op lines are get/put/del with
 * their own flags. Malformed input is ExitInvalidInput with etcdctl's messages.
 */
import type { Compare, RequestOp } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { cmp, type CompareOp, op } from "../client/ops.ts";
import type { CommandSpec, CtlContext } from "./ctl_command.ts";
import { CtlExit, Exit, exitWith } from "./ctl_exit.ts";
import { FlagError, parseFlags, parseInt64 } from "./ctl_flags.ts";
import { goQuote } from "./ctl_gofmt.ts";
import { DEL_FLAGS, delOp, GET_FLAGS, getOp, PUT_FLAGS, putOp } from "./ctl_kv.ts";
import { client } from "./ctl_connect.ts";

/** strconv.Unquote of a Go double- or back-quoted string, as bytes; undefined if invalid. */
export function goUnquote(s: string): Uint8Array | undefined {
  const enc = new TextEncoder();
  if (s.length >= 2 && s[0] === "`" && s[s.length - 1] === "`") {
    const inner = s.slice(1, -1);
    return inner.includes("`") ? undefined : enc.encode(inner.replaceAll("\r", ""));
  }
  if (s.length < 2 || s[0] !== '"' || s[s.length - 1] !== '"') return undefined;
  const out: number[] = [];
  const inner = s.slice(1, -1);
  const simple: Record<string, number> = {
    a: 7,
    b: 8,
    f: 12,
    n: 10,
    r: 13,
    t: 9,
    v: 11,
    "\\": 92,
    '"': 34,
  };
  for (let i = 0; i < inner.length;) {
    const c = inner[i];
    if (c === '"' || c === "\n") return undefined;
    if (c !== "\\") {
      const cp = inner.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      out.push(...enc.encode(ch));
      i += ch.length;
      continue;
    }
    const e = inner[i + 1];
    if (e === undefined) return undefined;
    if (e in simple) {
      out.push(simple[e]);
      i += 2;
    } else if (e === "x" && /^[0-9a-fA-F]{2}$/.test(inner.slice(i + 2, i + 4))) {
      out.push(parseInt(inner.slice(i + 2, i + 4), 16));
      i += 4;
    } else if (/^[0-7]{3}$/.test(inner.slice(i + 1, i + 4))) {
      const v = parseInt(inner.slice(i + 1, i + 4), 8);
      if (v > 255) return undefined;
      out.push(v);
      i += 4;
    } else if (e === "u" && /^[0-9a-fA-F]{4}$/.test(inner.slice(i + 2, i + 6))) {
      out.push(...enc.encode(String.fromCodePoint(parseInt(inner.slice(i + 2, i + 6), 16))));
      i += 6;
    } else if (e === "U" && /^[0-9a-fA-F]{8}$/.test(inner.slice(i + 2, i + 10))) {
      const cp = parseInt(inner.slice(i + 2, i + 10), 16);
      if (cp > 0x10ffff) return undefined;
      out.push(...enc.encode(String.fromCodePoint(cp)));
      i += 10;
    } else return undefined;
  }
  return new Uint8Array(out);
}

const dec = new TextDecoder();

/**
 * etcdctl's argify: splits a line into words, double-quoted words unquoted as Go strings and
 * single-quoted ones cut as etcdctl cuts them (its slice uses the number of words, not the
 * word's length: `'v'` as the third word gives `v`).
 */
export function argify(line: string): string[] {
  const re = /"(?:[^"\\]|\\.)*"|'[^']*'|[^'"\s]\S*[^'"\s]?/g;
  const args = line.match(re) ?? [];
  return args.map((a) => {
    if (a.length === 0) return a;
    if (a[0] === "'") {
      const end = args.length - 1;
      if (end < 1 || end > a.length) {
        throw new CtlExit(Exit.InvalidInput, `slice bounds out of range [1:${end}]`);
      }
      return a.slice(1, end);
    }
    if (a[0] === '"') {
      const b = goUnquote(a);
      if (!b) throw new CtlExit(Exit.InvalidInput, "invalid syntax");
      return dec.decode(b);
    }
    return a;
  });
}

const QUOTED = String.raw`"(?:[^"\\]|\\.)*"|` + "`[^`]*`";

/** etcdctl's parseCompare: `target("key") op "value"`. */
export function parseCompare(line: string): Compare {
  const lp = line.indexOf("(");
  if (lp < 0) throw new Error(`malformed comparison: ${line}`);
  const target = line.slice(0, lp);
  const rest = line.slice(lp + 1);
  // fmt.Sscanf(rest, "%q) %s %q", &key, &op, &val)
  const m = new RegExp(`^\\s*(${QUOTED})\\)\\s*(\\S+)\\s+(${QUOTED})`).exec(rest);
  const keyB = m ? goUnquote(m[1]) : undefined;
  const valB = m ? goUnquote(m[3]) : undefined;
  if (!m || !keyB || !valB) {
    const km = new RegExp(`^\\s*(${QUOTED})`).exec(rest);
    const k = km ? goUnquote(km[1]) : undefined;
    throw new Error(
      `malformed comparison: ${line}; got ${target}(${goQuote(k ?? "")}) ${m?.[2] ?? ""} ""`,
    );
  }
  const key = keyB;
  const opText = m[2];
  const val = dec.decode(valB);
  if (!["=", "!=", "<", ">"].includes(opText)) {
    throw new Error(`invalid txn compare request: ${line}`);
  }
  const o = opText as CompareOp;
  const int = () => {
    try {
      return parseInt64(val);
    } catch {
      throw new Error(`invalid txn compare request: ${line}`);
    }
  };
  switch (target) {
    case "ver":
    case "version":
      return cmp.version(key, o, int());
    case "c":
    case "create":
      return cmp.createRevision(key, o, int());
    case "m":
    case "mod":
      return cmp.modRevision(key, o, int());
    case "val":
    case "value":
      return cmp.value(key, o, valB);
    case "lease":
      // etcdctl 3.4 panics on lease compares; the lease is taken in hex, as ctl prints it
      try {
        return cmp.lease(key, o, parseInt64(val, 16));
      } catch {
        throw new Error(`invalid txn compare request: ${line}`);
      }
    default:
      throw new Error(`malformed comparison: ${line} (unknown target ${target})`);
  }
}

/** etcdctl's parseRequestUnion: one get/put/del line (prefixes of the names accepted). */
export async function parseRequestOp(line: string): Promise<RequestOp> {
  const args = argify(line);
  if (args.length < 2) throw new Error(`invalid txn compare request: ${line}`);
  const names = ["put", "get", "del"];
  const name = names.includes(args[0])
    ? args[0]
    : names.filter((n) => n.startsWith(args[0])).length === 1
    ? names.find((n) => n.startsWith(args[0]))
    : undefined;
  const invalid = () => new Error(`invalid txn request: ${line}`);
  if (!name) throw invalid();
  const specs = name === "put" ? PUT_FLAGS : name === "get" ? GET_FLAGS : DEL_FLAGS;
  let f;
  try {
    f = parseFlags(args.slice(1), specs);
  } catch (err) {
    if (err instanceof FlagError) throw invalid();
    throw err;
  }
  if (name === "get") {
    const { key, opts } = getOp(f.positional, f);
    return op.get(key, opts);
  }
  if (name === "del") {
    const { key, opts } = delOp(f.positional, f);
    return op.delete(key, opts);
  }
  // etcdctl reads a missing value from os.Stdin, which its line reader has already drained
  const { key, value, opts } = await putOp(
    f.positional,
    f,
    () => Promise.resolve(new Uint8Array()),
  );
  return op.put(key, value, opts);
}

async function readBlock<T>(
  ctx: CtlContext,
  parse: (line: string) => Promise<T> | T,
): Promise<T[]> {
  const out: T[] = [];
  for (;;) {
    const { line, eof } = await ctx.io.stdin.readLine();
    if (eof) throw new CtlExit(Exit.InvalidInput, "EOF");
    const t = line.trim();
    if (t.length === 0) return out;
    try {
      out.push(await parse(t));
    } catch (err) {
      if (err instanceof CtlExit) throw err;
      exitWith(Exit.InvalidInput, err);
    }
  }
}

async function runTxn(ctx: CtlContext): Promise<void> {
  if (ctx.args.length !== 0) {
    throw new CtlExit(Exit.BadArgs, "txn command does not accept argument");
  }
  const interactive = ctx.flags.bool("interactive");
  const c = await client(ctx);
  const prompt = (s: string) => {
    if (interactive) ctx.out(s + "\n");
  };
  prompt("compares:");
  const compares = await readBlock(ctx, parseCompare);
  prompt("success requests (get, put, del):");
  const success = await readBlock(ctx, parseRequestOp);
  prompt("failure requests (get, put, del):");
  const failure = await readBlock(ctx, parseRequestOp);
  let resp;
  try {
    resp = await c.kv.txn().if(...compares).then(...success).else(...failure).commit({
      signal: ctx.io.interrupt,
    });
  } catch (err) {
    exitWith(Exit.Error, err);
  }
  ctx.printer.txn(resp);
}

export const TXN_COMMAND: CommandSpec = {
  path: ["txn"],
  use: "[options]",
  short: "Txn processes all the requests in one transaction",
  flags: [{
    name: "interactive",
    short: "i",
    kind: "bool",
    def: false,
    help: "Input transaction in interactive mode",
  }],
  run: runTxn,
};
