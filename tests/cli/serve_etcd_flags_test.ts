/**
 * Every flag etcd 3.5's `etcd --help` lists is a flag of `concord serve`: its etcd default is
 * accepted, and a value asking for something Concord does not do is refused naming the flag
 * (never "flag provided but not defined"). --metrics and --listen-metrics-urls belong to the
 * metrics work and are left out here.
 */
import assert from "node:assert/strict";
import { parseServeFlags, SERVE_FLAGS, serveHelp } from "../../lib/cli/serve_flags.ts";
import { serveVersion } from "../../lib/cli/serve_help.ts";
import { ConfigError } from "../../lib/server/config.ts";

/** The flags of etcd 3.5's server/etcdmain/help.go, in its order. */
const ETCD_35_FLAGS = [
  "name",
  "data-dir",
  "wal-dir",
  "snapshot-count",
  "heartbeat-interval",
  "election-timeout",
  "initial-election-tick-advance",
  "listen-peer-urls",
  "listen-client-urls",
  "listen-client-http-urls",
  "max-snapshots",
  "max-wals",
  "quota-backend-bytes",
  "backend-bbolt-freelist-type",
  "backend-batch-interval",
  "backend-batch-limit",
  "max-txn-ops",
  "max-request-bytes",
  "max-concurrent-streams",
  "enable-grpc-gateway",
  "grpc-keepalive-min-time",
  "grpc-keepalive-interval",
  "grpc-keepalive-timeout",
  "socket-reuse-port",
  "socket-reuse-address",
  "raft-read-timeout",
  "raft-write-timeout",
  "initial-advertise-peer-urls",
  "initial-cluster",
  "initial-cluster-state",
  "initial-cluster-token",
  "advertise-client-urls",
  "discovery",
  "discovery-fallback",
  "discovery-proxy",
  "discovery-srv",
  "discovery-srv-name",
  "strict-reconfig-check",
  "pre-vote",
  "auto-compaction-retention",
  "auto-compaction-mode",
  "enable-v2",
  "v2-deprecation",
  "cert-file",
  "key-file",
  "client-cert-auth",
  "client-cert-file",
  "client-key-file",
  "client-crl-file",
  "client-cert-allowed-hostname",
  "trusted-ca-file",
  "auto-tls",
  "peer-cert-file",
  "peer-key-file",
  "peer-client-cert-auth",
  "peer-trusted-ca-file",
  "peer-cert-allowed-cn",
  "peer-cert-allowed-hostname",
  "peer-auto-tls",
  "peer-client-cert-file",
  "peer-client-key-file",
  "self-signed-cert-validity",
  "peer-crl-file",
  "cipher-suites",
  "cors",
  "host-whitelist",
  "tls-min-version",
  "tls-max-version",
  "auth-token",
  "bcrypt-cost",
  "auth-token-ttl",
  "enable-pprof",
  "logger",
  "log-outputs",
  "log-level",
  "enable-log-rotation",
  "log-rotation-config-json",
  "experimental-enable-distributed-tracing",
  "experimental-distributed-tracing-address",
  "experimental-distributed-tracing-service-name",
  "experimental-distributed-tracing-instance-id",
  "experimental-distributed-tracing-sampling-rate",
  "proxy",
  "proxy-failure-wait",
  "proxy-refresh-interval",
  "proxy-dial-timeout",
  "proxy-write-timeout",
  "proxy-read-timeout",
  "experimental-initial-corrupt-check",
  "experimental-corrupt-check-time",
  "experimental-compact-hash-check-enabled",
  "experimental-compact-hash-check-time",
  "experimental-enable-v2v3",
  "experimental-enable-lease-checkpoint",
  "experimental-enable-lease-checkpoint-persist",
  "experimental-compaction-batch-limit",
  "experimental-compaction-sleep-interval",
  "experimental-peer-skip-client-san-verification",
  "experimental-watch-progress-notify-interval",
  "experimental-downgrade-check-time",
  "experimental-memory-mlock",
  "experimental-warning-apply-duration",
  "experimental-txn-mode-write-with-shared-buffer",
  "experimental-bootstrap-defrag-threshold-megabytes",
  "experimental-stop-grpc-service-on-defrag",
  "force-new-cluster",
  "unsafe-no-fsync",
];

/** Values a refused flag may not take: one per kind. */
const OTHER: Record<string, string> = {
  bool: "__flip__",
  uint: "7",
  int: "7",
  duration: "7s",
  urls: "http://127.0.0.1:1",
  strings: "x.example",
  string: "something-else",
};

Deno.test("etcd flags: every etcd 3.5 flag is known and accepts etcd's default", () => {
  for (const name of ETCD_35_FLAGS) {
    const def = SERVE_FLAGS[name];
    assert.ok(def, `--${name} is not a flag of concord serve`);
    if (def.default.startsWith("${") || name === "initial-cluster") continue;
    const value = def.default === "math.MaxUint32" ? "4294967295" : def.default;
    assert.doesNotThrow(() => parseServeFlags([`--${name}=${value}`]), name);
  }
  const help = serveHelp();
  for (const name of ETCD_35_FLAGS) assert.match(help, new RegExp(`\n  --${name}[ \n]`), name);
});

Deno.test("etcd flags: a value Concord cannot honour is refused, naming the flag and why", () => {
  let refused = 0;
  for (const [name, def] of Object.entries(SERVE_FLAGS)) {
    if (def.unsupported === undefined || def.unsupported.startsWith("accepted")) continue;
    let value = OTHER[def.kind];
    if (value === "__flip__") value = def.default === "true" ? "false" : "true";
    if (name === "tls-min-version") value = "TLS1.3";
    if (name === "tls-max-version") value = "TLS1.2";
    assert.throws(
      () => parseServeFlags([`--${name}=${value}`]),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message.startsWith(`--${name}=${value} is not supported by Concord: `),
      name,
    );
    refused++;
  }
  assert.ok(refused >= 40, `only ${refused} refused flags`);
});

Deno.test("etcd flags: Go-only flags are accepted with a warning; deprecated ones warn as etcd", () => {
  const { notices } = parseServeFlags(["--enable-pprof", "--enable-v2=false", "--proxy=off"]);
  const pprof = notices.find((n) => n.fields?.flag === "enable-pprof");
  assert.equal(pprof?.level, "warn");
  assert.match(String(pprof?.fields?.reason), /inspect/);
  assert.ok(
    notices.some((n) =>
      n.msg === "--enable-v2 is deprecated in 3.5 and will be decommissioned in 3.6."
    ),
  );
  assert.ok(notices.some((n) => n.msg.startsWith("--proxy is deprecated")));
  // etcd 2's ignored flags take no value and are ignored
  const old = parseServeFlags(["--v", "--name", "x"]);
  assert.equal(old.config.name, "x");
  assert.ok(old.notices.some((n) => n.fields?.["flag-name"] === "v"));
});

Deno.test("etcd flags: the flags Concord implements take effect", () => {
  const { config, settings } = parseServeFlags([
    "--max-concurrent-streams=50",
    "--experimental-warning-apply-duration=250ms",
    "--experimental-snapshot-catchup-entries=77",
    "--log-level=warn",
    "--log-outputs=stdout,/tmp/x.log",
    "--backend-batch-limit=0",
    "--quota-backend-bytes=-1",
    "--unsafe-no-fsync",
  ]);
  assert.equal(settings.unsafeNoFsync, true);
  assert.equal(config.maxConcurrentStreams, 50);
  assert.equal(config.warningApplyDurationMs, 250);
  assert.equal(settings.snapshotCatchUpEntries, 77);
  assert.equal(config.logLevel, "warn");
  assert.deepEqual(settings.logOutputs, ["stdout", "/tmp/x.log"]);
  assert.equal(config.backendBatchLimit, 10_000, "0 is etcd's default");
  assert.equal(config.quotaBackendBytes, Number.MAX_SAFE_INTEGER);
  for (
    const [args, msg] of [
      [["--logger=capnslog"], "--logger=capnslog is removed in v3.5"],
      [["--logger=glog"], 'unknown logger option "glog"'],
      [["--log-level=loud"], 'unknown log level "loud" for flag --log-level'],
      [["--log-outputs=default,stderr"], 'multi logoutput for "default" is not supported yet'],
      [["--no-such-flag"], "flag provided but not defined: -no-such-flag"],
      [["stray"], "'stray' is not a valid flag"],
    ] as const
  ) {
    assert.throws(
      () => parseServeFlags([...args]),
      (e: unknown) => e instanceof ConfigError && e.message === msg,
      args.join(" "),
    );
  }
});

Deno.test("etcd flags: --version prints etcd's lines with Concord's facts", () => {
  assert.equal(parseServeFlags(["--version"]).version, true);
  const lines = serveVersion().split("\n");
  assert.match(lines[0], /^etcd Version: 3\.\d+\.\d+$/);
  assert.match(lines[1], /^Concord Version: \d+\.\d+\.\d+/);
  assert.equal(lines[2], "Git SHA: Not provided");
  assert.match(lines[3], /^Deno Version: \d+\.\d+\.\d+ \(V8 .*, TypeScript .*\)$/);
  assert.match(lines[4], /^Go OS\/Arch: [a-z]+\/[a-z0-9_]+$/);
});
