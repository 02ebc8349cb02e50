/**
 * ctl's flag parsing (pflag's forms, ETCDCTL_* variables, Go durations) and the errors found
 * before any server is contacted, compared with the real etcdctl 3.4's stderr and exit code.
 */
import assert from "node:assert/strict";
import {
  applyEnv,
  EnvConflictError,
  FlagError,
  type FlagSpec,
  formatGoDuration,
  parseFlags,
} from "../../lib/cli/ctl_flags.ts";
import { GLOBAL_FLAGS } from "../../lib/cli/ctl_command.ts";
import { runConcordCtl, runEtcdctl } from "./ctl_compat.ts";

const SPECS: FlagSpec[] = [
  ...GLOBAL_FLAGS,
  { name: "rev", kind: "int", def: 0n, help: "" },
  { name: "prefix", kind: "bool", def: false, help: "" },
  { name: "interactive", short: "i", kind: "bool", def: false, help: "" },
];

Deno.test("flags: pflag's forms, anywhere among the arguments, -- ends them", () => {
  const p = parseFlags(
    ["k", "--rev=3", "-wjson", "--prefix", "e", "--endpoints", "a,b", "--endpoints=c", "-i"],
    SPECS,
  );
  assert.equal(p.int("rev"), 3n);
  assert.equal(p.string("write-out"), "json");
  assert.equal(p.bool("prefix"), true);
  assert.equal(p.bool("interactive"), true);
  assert.deepEqual(p.strings("endpoints"), ["a", "b", "c"]);
  assert.deepEqual(p.positional, ["k", "e"]);
  assert.equal(p.dashAt, -1);

  const q = parseFlags(
    ["-w", "table", "--prefix=false", "--rev", "-4", "x", "--", "-i", "y"],
    SPECS,
  );
  assert.equal(q.string("write-out"), "table");
  assert.equal(q.bool("prefix"), false);
  assert.equal(q.int("rev"), -4n);
  assert.deepEqual(q.positional, ["x", "-i", "y"]);
  assert.equal(q.dashAt, 1);
  assert.equal(q.bool("interactive"), false);
  assert.equal(parseFlags(["--dial-timeout", "1m30.5s"], SPECS).duration("dial-timeout"), 90_500);

  const fails = (args: string[], message: string) =>
    assert.throws(
      () => parseFlags(args, SPECS),
      (e) => e instanceof FlagError && e.message === message,
    );
  fails(["--nope"], "unknown flag: --nope");
  fails(["-z"], "unknown shorthand flag: 'z' in -z");
  fails(["--rev"], "flag needs an argument: --rev");
  fails(
    ["--rev", "x"],
    'invalid argument "x" for "--rev" flag: strconv.ParseInt: parsing "x": invalid syntax',
  );
  fails(
    ["--prefix=maybe"],
    'invalid argument "maybe" for "--prefix" flag: strconv.ParseBool: parsing "maybe": invalid syntax',
  );
});

Deno.test("flags: ETCDCTL_* variables set what the command line did not", () => {
  const p = parseFlags(["--hex"], SPECS);
  applyEnv(p, GLOBAL_FLAGS.map((f) => f.name), {
    ETCDCTL_WRITE_OUT: "fields",
    ETCDCTL_ENDPOINTS: "h1:1,h2:2",
    ETCDCTL_COMMAND_TIMEOUT: "250ms",
  });
  assert.equal(p.string("write-out"), "fields");
  assert.equal(p.bool("hex"), true);
  assert.deepEqual(p.strings("endpoints"), ["h1:1", "h2:2"]);
  assert.equal(p.duration("command-timeout"), 250);
  assert.throws(
    () => applyEnv(parseFlags([], SPECS), ["dial-timeout"], { ETCDCTL_DIAL_TIMEOUT: "soon" }),
    FlagError,
  );
  // a variable the command line shadows is refused, as etcd's pkg/flags refuses it
  assert.throws(
    () => applyEnv(parseFlags(["--hex"], SPECS), ["hex"], { ETCDCTL_HEX: "false" }),
    EnvConflictError,
  );
});

Deno.test("flags: Go's Duration.String", () => {
  assert.equal(formatGoDuration(3.956364), "3.956364ms");
  assert.equal(formatGoDuration(0.5), "500µs");
  assert.equal(formatGoDuration(1500), "1.5s");
  assert.equal(formatGoDuration(90_500), "1m30.5s");
  assert.equal(formatGoDuration(0), "0s");
});

/** Errors found before connecting: the same stderr and exit code as etcdctl (no server). */
const EARLY: string[][] = [
  ["get", "foo", "--counted"],
  ["frob"],
  ["lease", "frob"],
  ["get", "foo", "--rev", "x"],
  ["get", "foo", "-w", "yaml"],
  ["get"],
  ["get", "a", "--prefix", "--from-key"],
  ["put", "k", "v", "--lease", "zz"],
  ["put", "k", "v", "--ignore-value"],
  ["del"],
  ["lease", "grant", "x"],
  ["lease", "revoke"],
  ["lease", "timetolive", "xyz"],
  ["member", "remove", "zz"],
  ["member", "add", "n", "http://a:1", "https://b:2"],
  ["watch"],
  ["watch", "a", "b", "--prefix"],
  ["txn", "x"],
  ["compaction"],
  ["move-leader"],
  ["snapshot", "save"],
  ["user", "add"],
  ["role", "grant-permission", "r", "bogus", "k"],
  ["elect", "e"],
  ["lock"],
  ["alarm", "list", "x"],
  ["--cert", "", "get", "k"],
];

Deno.test("errors before connecting match etcdctl's", async () => {
  const url = "http://127.0.0.1:1";
  const strip = (s: string) => s.split("\n").filter((l) => !l.startsWith('{"level":')).join("\n");
  for (const args of EARLY) {
    const [want, got] = await Promise.all([runEtcdctl(url, args), runConcordCtl(url, args)]);
    assert.deepEqual(
      { code: got.code, stderr: strip(got.stderr) },
      { code: want.code, stderr: strip(want.stderr) },
      `ctl ${args.join(" ")}`,
    );
  }
});
