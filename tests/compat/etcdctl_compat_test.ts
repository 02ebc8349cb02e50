/**
 * Differential compatibility: one scripted etcdctl 3.4 session runs against a real etcd 3.4
 * and against an in-process Concord, both fresh, and every step's stdout, stderr error lines
 * and exit code must match after normalizing only what legitimately differs between two
 * servers (ids, terms, hashes, sizes, ports, versions). Revisions are NOT normalized: the
 * same command sequence on two fresh servers must produce the same revisions.
 */
import assert from "node:assert/strict";
import { freePort, startEtcd } from "../support/etcd.ts";
import { startTestServer } from "../server/harness.ts";

/** One etcdctl invocation of the script. */
interface Step {
  /** etcdctl arguments (after --endpoints). `@DIR@` is replaced by a per-server temp dir. */
  args: string[];
  /** Fed to stdin (closed afterwards unless `lines` is set). */
  stdin?: string;
  /**
   * A long-running command (watch, elect): read stdout until it has this many lines, then
   * kill it; the exit code is not compared.
   */
  lines?: number;
  /** Repeats the command (10 s at most) until its stdout is empty: waits for a state. */
  untilEmpty?: boolean;
  /** Saves the first group of this pattern in stdout as `$name`, used by later steps' args. */
  capture?: [string, RegExp];
  /**
   * A known, explained difference: only the exit codes are compared, and the reason is
   * printed. Each one is listed in the report.
   */
  differs?: string;
  /** Extra normalizations for this step only: [pattern, replacement]. */
  norm?: Rule[];
}

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

const dec = new TextDecoder();
const enc = new TextEncoder();

/** A rewrite: a pattern and its replacement (text with $1.., or a function of the match). */
type Rule = [RegExp, string | ((match: string, ...groups: string[]) => string)];

/** etcd lists a lease's keys in Go map order (random by design): compare them as a set. */
const SORTED_KEYS: Rule = [
  /attached keys\(\[([^\]]*)\]\)/g,
  (_m, keys) => `attached keys([${keys.split(" ").sort().join(" ")}])`,
];

/** Per-server values captured by earlier steps (lease ids differ between the servers). */
type Vars = Map<string, string>;

async function run(endpoint: string, dir: string, vars: Vars, step: Step): Promise<Outcome> {
  const args = step.args.map((a) =>
    [...vars].reduce((acc, [k, v]) => acc.replaceAll(`$${k}`, v), a.replaceAll("@DIR@", dir))
  );
  let out = await spawn(endpoint, args, step);
  const deadline = Date.now() + 10_000;
  while (step.untilEmpty && out.stdout !== "" && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    out = await spawn(endpoint, args, step);
  }
  if (step.capture) {
    const m = step.capture[1].exec(out.stdout);
    if (m) vars.set(step.capture[0], m[1]);
  }
  return out;
}

async function spawn(endpoint: string, args: string[], step: Step): Promise<Outcome> {
  const child = new Deno.Command("etcdctl", {
    args: ["--endpoints", endpoint, "--dial-timeout", "5s", "--command-timeout", "10s", ...args],
    env: { ETCDCTL_API: "3" },
    stdin: step.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (step.lines === undefined) {
    if (step.stdin !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(enc.encode(step.stdin));
      await w.close();
    }
    const out = await child.output();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  }
  // long-running: keep stdin open, read until enough lines, then kill
  let writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  if (step.stdin !== undefined) {
    writer = child.stdin.getWriter();
    await writer.write(enc.encode(step.stdin));
  }
  const errText = new Response(child.stderr).text();
  let text = "";
  const reader = child.stdout.getReader();
  const timer = setTimeout(() => child.kill("SIGKILL"), 8000);
  try {
    while (text.split("\n").length - 1 < step.lines) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value);
    }
  } finally {
    clearTimeout(timer);
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await reader.cancel().catch(() => {});
    await writer?.close().catch(() => {});
    await child.status;
  }
  return { code: null, stdout: text, stderr: await errText };
}

/** The rewrites every step gets: only values that two correct servers may disagree on. */
const GLOBAL_NORM: Rule[] = [
  [/127\.0\.0\.1:\d+/g, "EP"],
  [
    /"(cluster_id|member_id|raft_term|ID|id|lease|ttl|hash|compact_revision_hash|leader|dbSize|dbSizeInUse|raftTerm|raftIndex|raftAppliedIndex)":\d+/g,
    '"$1":N',
  ],
  [/"(ClusterID|MemberID|ID|Leader)" : \d+/g, '"$1" : N'],
  [/"version":"3\.\d+\.\d+"/g, '"version":"V"'],
  // ids in hex: etcd prints them without leading zeros, so an id whose member-id prefix is
  // small is shorter (a 13-digit lease id named an election key in one CI run)
  [/\b[0-9a-f]{12,16}\b/g, "HEXID"],
  [/remaining\(\d+s\)/g, "remaining(Ns)"],
  [/"TTL":\d+/g, '"TTL":N'],
];

/** Only stderr's error lines: etcdctl's zap logs carry timestamps and are not part of the contract. */
function errorLines(stderr: string): string {
  return stderr.split("\n").filter((l) => /error/i.test(l) && !l.startsWith("{")).join("\n");
}

function normalize(o: Outcome, step: Step): Outcome {
  const rules = [...GLOBAL_NORM, ...(step.norm ?? [])];
  const fix = (s: string) =>
    rules.reduce(
      (acc, [re, rep]) => typeof rep === "string" ? acc.replace(re, rep) : acc.replace(re, rep),
      s,
    );
  return { code: o.code, stdout: fix(o.stdout), stderr: fix(errorLines(o.stderr)) };
}

function txnOf(n: number): string {
  const puts = Array.from({ length: n }, (_, i) => `put tx/${i} v`).join("\n");
  return `\n${puts}\n\n\n`;
}

/** See `differs`: the maintenance calls a non-root user may not make. */
const MAINT_DENIED = "etcd 3.4 passes the auth store's error through unmapped (gRPC Unknown " +
  "'auth: permission denied'); Concord answers etcd's mapped 'etcdserver: permission denied'";

const ROOT = ["--user", "root:rootpw"];

/** The script. Revisions noted in comments are what both servers must report. */
const STEPS: Step[] = [
  // KV basics: revisions 2..7
  { args: ["put", "p/b", "2"] },
  { args: ["put", "p/a", "1"] },
  { args: ["put", "p/c", "3"] },
  { args: ["put", "p/d", "4"] },
  { args: ["put", "p/a", "1b", "--prev-kv"] },
  { args: ["put", "q", "x", "-w", "json"] },
  { args: ["get", "p/", "--prefix"] },
  { args: ["get", "p/b", "--from-key"] },
  { args: ["get", "p/", "--prefix", "--limit", "2"] },
  { args: ["get", "p/", "--prefix", "--sort-by", "VALUE", "--order", "DESCEND"] },
  { args: ["get", "p/", "--prefix", "--sort-by", "MODIFY", "--order", "ASCEND"] },
  { args: ["get", "p/", "--prefix", "--sort-by", "CREATE", "--order", "DESCEND"] },
  { args: ["get", "p/", "--prefix", "--sort-by", "VERSION"] },
  { args: ["get", "p/a", "--rev", "3"] },
  { args: ["get", "p/", "--prefix", "--keys-only"] },
  { args: ["get", "p/", "--prefix", "--print-value-only"] },
  { args: ["get", "p/", "--prefix", "--limit", "1", "-w", "json"] },
  { args: ["get", "p/", "--prefix", "-w", "fields"] },
  { args: ["get", "nothing"] },
  { args: ["get", "p/", "--prefix", "--print-value-only", "-w", "json"] },
  { args: ["get", "p/c", "--consistency", "s"] },
  { args: ["put", "p/c", "--ignore-value"] },
  { args: ["put", "p/e", "--ignore-value"] },
  // del: revisions 8..
  { args: ["del", "p/c", "--prev-kv"] },
  { args: ["del", "p/", "--prefix", "-w", "json"] },
  { args: ["put", "z1", "a"] },
  { args: ["put", "z2", "b"] },
  { args: ["del", "z", "--from-key", "--prev-kv"] },
  { args: ["del", "missing"] },
  // txn
  { args: ["put", "t", "1"] },
  {
    args: ["txn"],
    stdin: 'value("t") = "1"\n\nput t 2\nget t\n\nput t 9\n\n',
  },
  {
    args: ["txn", "-w", "json"],
    stdin: 'mod("t") < "2"\n\nput t 3\n\nget t\ndel t\n\n',
  },
  { args: ["txn"], stdin: 'version("t") > "0"\ncreate("t") = "0"\n\nput t 4\n\nput t 5\n\n' },
  { args: ["txn"], stdin: txnOf(129) },
  { args: ["txn"], stdin: "bogus line\n" },
  { args: ["get", "t", "-w", "fields"] },
  // watch: history replay with --rev, --prefix, --prev-kv, and interactive
  { args: ["put", "w/a", "1"] },
  { args: ["put", "w/b", "2"] },
  { args: ["put", "w/a", "3"] },
  { args: ["del", "w/b"] },
  { args: ["watch", "w/", "--prefix", "--rev", "1"], lines: 12 },
  { args: ["watch", "w/a", "--rev", "1", "--prev-kv"], lines: 8 },
  { args: ["watch", "w/", "--prefix", "--rev", "1", "-w", "json"], lines: 1 },
  { args: ["watch", "-i"], stdin: "watch w/ --prefix --rev 1 --prev-kv\n", lines: 16 },
  // lease
  { args: ["lease", "grant", "600"], capture: ["L1", /lease (\w+) granted/] },
  { args: ["lease", "grant", "300"], capture: ["L2", /lease (\w+) granted/] },
  { args: ["lease", "list"], norm: [[/HEXID\nHEXID/g, "HEXID\nHEXID"]] },
  { args: ["put", "l/a", "1", "--lease", "$L1"] },
  { args: ["put", "l/b", "2", "--lease", "$L1"] },
  { args: ["put", "l/c", "3", "--lease", "$L2"] },
  { args: ["lease", "keep-alive", "--once", "$L1"] },
  { args: ["lease", "timetolive", "$L1", "--keys"], norm: [SORTED_KEYS] },
  { args: ["lease", "timetolive", "$L2", "-w", "json", "--keys"] },
  { args: ["get", "l/", "--prefix", "-w", "json"] },
  { args: ["lease", "revoke", "$L1"] },
  { args: ["lease", "timetolive", "$L1"] },
  { args: ["lease", "keep-alive", "--once", "$L1"] },
  { args: ["get", "l/", "--prefix"] },
  { args: ["lease", "revoke", "$L2"] },
  { args: ["lease", "keep-alive", "--once", "1"] },
  { args: ["lease", "timetolive", "1"] },
  { args: ["lease", "revoke", "1"] },
  { args: ["put", "k", "v", "--lease", "1234"] },
  { args: ["lease", "revoke", "1234"] },
  { args: ["lease", "grant", "0"] },
  // expiry: a 2 s lease takes its key with it, as one delete revision
  { args: ["lease", "grant", "2"], capture: ["L4", /lease (\w+) granted/] },
  { args: ["put", "e/k", "v", "--lease", "$L4"] },
  { args: ["get", "e/k", "--print-value-only"] },
  { args: ["get", "e/k"], untilEmpty: true },
  { args: ["get", "e/k", "-w", "json"] },
  { args: ["lease", "timetolive", "$L4"] },
  // compaction and errors around it
  { args: ["compaction", "5", "--physical"] },
  { args: ["compaction", "3"] },
  { args: ["get", "w/a", "--rev", "2"] },
  { args: ["get", "w/a", "--rev", "100000"] },
  { args: ["get", "w/a", "--rev", "5"] },
  { args: ["watch", "w/", "--prefix", "--rev", "2"], lines: 1 },
  { args: ["defrag"] },
  { args: ["endpoint", "health"], norm: [[/took = [^\n]*/g, "took = T"]] },
  {
    args: ["endpoint", "status"],
    norm: [[/3\.\d+\.\d+/g, "V"], [/\d+(\.\d+)? [kMG]?B/g, "SIZE"], [
      /, \d+, \d+, \d+, /g,
      ", T, I, A, ",
    ]],
  },
  { args: ["endpoint", "hashkv"], norm: [[/, \d+$/gm, ", HASH"]] },
  { args: ["endpoint", "hashkv", "-w", "json"] },
  { args: ["alarm", "list"] },
  { args: ["alarm", "disarm"] },
  { args: ["snapshot", "save", "@DIR@/snap.db"], norm: [[/at .*snap\.db/g, "at PATH"]] },
  { args: ["endpoint", "status", "-w", "json"] },
  {
    args: ["member", "list", "-w", "json"],
    norm: [[/"(peerURLs|clientURLs)":\["[^"]*"\]/g, '"$1":U']],
  },
  {
    args: ["member", "list"],
    norm: [[/HEXID, started, [^,]*, [^,]*, EP, false/g, "MEMBER"]],
  },
  // more edges and bad input
  // (revision 26 here)
  { args: ["put", "", "v"] },
  { args: ["put", "r/a", "1", "--prev-kv", "-w", "json"] },
  { args: ["put", "r/b", "2"] },
  { args: ["put", "r/c", "3"] },
  { args: ["get", "r/a", "r/c"] },
  { args: ["get", "r/", "--prefix", "--sort-by", "KEY", "--order", "DESCEND", "--limit", "2"] },
  { args: ["get", "r/", "--prefix", "--rev", "0", "--limit", "0"] },
  { args: ["get", "r/", "--prefix", "--sort-by", "NOPE"] },
  { args: ["del", "r/a", "r/c", "--prev-kv", "-w", "json"] },
  { args: ["compaction", "100000"] },
  { args: ["get", "r/b", "-w", "json"], capture: ["CUR", /"revision":(\d+)/] },
  { args: ["txn"], stdin: `\nput big ${"x".repeat(1600 * 1024)}\n\n\n` },
  { args: ["txn", "-i"], stdin: 'value("r/c") = "3"\n\nput r/c 4\n\nput r/c 5\n\n' },
  {
    args: ["watch", "r/c", "--rev", "29", "--prev-kv"],
    lines: 6,
  },
  { args: ["endpoint", "health", "--cluster"], norm: [[/took = [^\n]*/g, "took = T"]] },
  { args: ["role", "get", "missing"] },
  { args: ["user", "get", "missing"] },
  { args: ["user", "delete", "missing"] },
  { args: ["auth", "enable"] },
  { args: ["user", "add", "v:pw"] },
  { args: ["user", "add", "v:pw"] },
  { args: ["user", "grant-role", "v", "missing"] },
  { args: ["user", "revoke-role", "v", "missing"] },
  { args: ["role", "revoke-permission", "missing", "a"] },
  { args: ["user", "delete", "v"] },
  {
    args: ["txn"],
    stdin: 'ver("r/c") != "9"\nmod("r/c") > "1"\n\ndel r/c\n\n\n',
  },
  { args: ["txn"], stdin: 'val("r/b") = "2"\ncreate("r/b") < "1"\n\nput r/b x\n\nget r/b\n\n' },
  { args: ["txn"], stdin: "\nput q a\nput q b\n\n\n" },
  { args: ["txn"], stdin: "\nput q a\ndel q\n\n\n" },
  { args: ["txn", "-w", "json"], stdin: "\nput q2 a\nget q2\nget q\n\n\n" },
  { args: ["lease", "timetolive", "1", "-w", "json"] },
  { args: ["compaction", "$CUR"] },
  { args: ["defrag", "--cluster"] },
  { args: ["snapshot", "save", "/nonexistent/dir/x.db"] },
  { args: ["user", "passwd", "missing", "--interactive=false"], stdin: "pw\n" },
  { args: ["role", "grant-permission", "missing", "read", "a"] },
  { args: ["role", "grant-permission", "missing", "bogus", "a"] },
  { args: ["put", "r/x", "1", "--ignore-lease"] },
  { args: ["put", "r/c", "--ignore-lease", "--ignore-value"] },
  { args: ["watch", "-i"], stdin: "watch r/ --prefix\nprogress\n", lines: 1 },
  { args: ["watch", "-i"], stdin: "bogus\nwatch\n", lines: 0 },
  { args: ["lease", "grant", "100"], capture: ["L3", /lease (\w+) granted/] },
  { args: ["lease", "keep-alive", "$L3"], lines: 1 },
  { args: ["lease", "revoke", "$L3"] },
  {
    args: ["alarm", "list", "-w", "json"],
    // deliberate: etcd 3.4 leaves the Alarm response header nil (which makes its own
    // `alarm list -w fields` crash, etcd#11581); Concord fills it, as 3.5 does
    norm: [[/^\{"header":\{[^}]*\}\}$/m, "{}"]],
  },
  {
    args: ["endpoint", "status", "-w", "fields"],
    norm: [[
      /"(Version|DBSize|DBSizeInUse|Leader|RaftIndex|RaftTerm|RaftAppliedIndex)" : .*/g,
      '"$1" : X',
    ]],
  },
  { args: ["member", "list", "-w", "fields"], norm: [[/"(PeerURL|ClientURL)" : .*/g, '"$1" : U']] },
  { args: ["user", "add", "nopw", "--no-password"] },
  { args: ["user", "list", "-w", "json"] },
  // auth
  { args: ["user", "add", "root:rootpw"] },
  { args: ["role", "add", "r"] },
  { args: ["role", "grant-permission", "r", "readwrite", "a", "b"] },
  { args: ["role", "grant-permission", "r", "read", "ro/", "--prefix"] },
  { args: ["role", "grant-permission", "r", "write", "m", "--from-key"] },
  { args: ["role", "get", "r"] },
  { args: ["role", "get", "r", "-w", "json"] },
  { args: ["user", "add", "u:upw"] },
  { args: ["user", "grant-role", "u", "r"] },
  { args: ["user", "get", "u"] },
  { args: ["user", "get", "u", "--detail"] },
  { args: ["user", "list"] },
  { args: ["role", "list"] },
  { args: ["auth", "enable"] },
  { args: ["get", "a"] },
  { args: ["--user", "u:upw", "put", "a", "1"] },
  { args: ["--user", "u:upw", "get", "a"] },
  { args: ["--user", "u:upw", "put", "ro/x", "1"] },
  { args: ["--user", "u:upw", "get", "ro/", "--prefix"] },
  { args: ["--user", "u:upw", "put", "zz", "1"] },
  { args: ["--user", "u:wrong", "get", "a"] },
  { args: ["--user", "nobody:pw", "get", "a"] },
  { args: ["--user", "u:upw", "user", "list"] },
  { args: [...ROOT, "put", "ro/x", "2"] },
  { args: [...ROOT, "get", "", "--from-key", "--keys-only"] },
  { args: [...ROOT, "role", "revoke-permission", "r", "a", "b"] },
  { args: ["--user", "u:upw", "get", "a"] },
  { args: [...ROOT, "user", "passwd", "u", "--interactive=false"], stdin: "newpw\n" },
  { args: ["--user", "u:newpw", "get", "ro/x"] },
  // which maintenance and cluster calls need the root role
  {
    args: ["--user", "u:newpw", "endpoint", "status"],
    norm: [[/3\.\d+\.\d+/g, "V"], [/\d+(\.\d+)? [kMG]?B/g, "SIZE"], [
      /, \d+, \d+, \d+, /g,
      ", T, I, A, ",
    ]],
  },
  { args: ["--user", "u:newpw", "endpoint", "hashkv"], differs: MAINT_DENIED },
  { args: ["--user", "u:newpw", "defrag"], differs: MAINT_DENIED },
  { args: ["--user", "u:newpw", "alarm", "list"] },
  { args: ["--user", "u:newpw", "alarm", "disarm"] },
  {
    args: ["--user", "u:newpw", "member", "list"],
    norm: [[/HEXID, started, [^,]*, [^,]*, EP, false/g, "MEMBER"]],
  },
  { args: ["--user", "u:newpw", "compaction", "6"] },
  { args: ["--user", "u:newpw", "lease", "grant", "100"] },
  { args: ["--user", "u:newpw", "lease", "list"] },
  {
    args: ["--user", "u:newpw", "snapshot", "save", "@DIR@/u.db"],
    differs: MAINT_DENIED,
  },
  // refused: etcd's cancel reason is the gRPC status error's text
  { args: ["--user", "u:newpw", "watch", "zz", "--rev", "1"], lines: 2 },
  { args: ["--user", "u:newpw", "role", "get", "r"] },
  { args: ["--user", "u:newpw", "user", "get", "u"] },
  { args: [...ROOT, "lock", "lk", "--", "echo", "hi"] },
  {
    args: [...ROOT, "elect", "el", "p1"],
    lines: 2,
    norm: [[/^el\/\w+$/m, "el/LEASE"]],
  },
  {
    args: [...ROOT, "elect", "el", "--listen"],
    lines: 2,
    norm: [[/^el\/\w+$/m, "el/LEASE"]],
  },
  { args: [...ROOT, "lock", "lk2", "--ttl", "5", "--", "echo", "ttl"] },
  {
    args: ["--user", "nopw:x", "get", "a"],
    differs: "etcd 3.4 answers gRPC Unknown 'auth: authentication failed, password was given " +
      "for no password user'; Concord answers etcd's ErrAuthFailed (lib/auth/store.ts)",
  },
  { args: [...ROOT, "auth", "disable"] },
  { args: ["user", "delete", "u"] },
  { args: ["role", "delete", "r"] },
  { args: ["get", "ro/x"] },
  // (the killed `elect` left its key: el/<lease id>)
  { args: ["del", "", "--from-key", "--prev-kv"] },
  { args: ["get", "", "--from-key"] },
  { args: ["endpoint", "hashkv"], norm: [[/, \d+$/gm, ", HASH"]] },
];

Deno.test("etcdctl session: Concord answers as etcd 3.4 does", async () => {
  const [etcd, concord] = await Promise.all([
    startEtcd(),
    startTestServer((c) => {
      // fixed ports so the advertised URLs are the ones served, as etcd's launcher does
      const client = new URL(`http://127.0.0.1:${freePort()}`);
      c.name = "default";
      c.listenClientUrls = [client];
      c.advertiseClientUrls = [client];
      c.initialAdvertisePeerUrls = [new URL(`http://127.0.0.1:${freePort()}`)];
      c.initialCluster = new Map([["default", c.initialAdvertisePeerUrls]]);
    }),
  ]);
  const etcdDir = await Deno.makeTempDir({ prefix: "compat-etcd-" });
  const mismatches: string[] = [];
  const etcdVars: Vars = new Map();
  const concordVars: Vars = new Map();
  try {
    for (const [i, step] of STEPS.entries()) {
      const [a, b] = await Promise.all([
        run(etcd.url, etcdDir, etcdVars, step),
        run(concord.url, concord.dir, concordVars, step),
      ]);
      const na = normalize(a, step);
      const nb = normalize(b, step);
      if (Deno.env.get("COMPAT_VERBOSE")) {
        console.log(`#${i} ${step.args.join(" ")} -> ${a.code}\n${a.stdout}${a.stderr}`);
      }
      if (step.differs !== undefined) {
        console.log(`known difference: etcdctl ${step.args.join(" ")}: ${step.differs}`);
        if (na.code === nb.code) continue;
      }
      if (na.code !== nb.code || na.stdout !== nb.stdout || na.stderr !== nb.stderr) {
        mismatches.push(
          `#${i} etcdctl ${step.args.join(" ")}\n` +
            `  etcd    (exit ${na.code}): ${JSON.stringify(na.stdout)} ${
              JSON.stringify(na.stderr)
            }\n` +
            `  concord (exit ${nb.code}): ${JSON.stringify(nb.stdout)} ${
              JSON.stringify(nb.stderr)
            }`,
        );
      }
    }
  } finally {
    await Promise.all([
      etcd.stop(),
      concord.close(),
      Deno.remove(etcdDir, { recursive: true }),
    ]);
  }
  assert.equal(
    mismatches.length,
    0,
    `${mismatches.length} steps differ:\n${mismatches.join("\n")}`,
  );
});
