/**
 * `concord serve --config-file`: etcd's YAML format (its sample file loads), the file is the
 * whole configuration (flags and ETCD_* variables are ignored, as etcd 3.5 ignores them), and
 * values of the wrong type are refused as etcd's decoding refuses them.
 */
import assert from "node:assert/strict";
import { parseServeFlags } from "../../lib/cli/serve_flags.ts";
import { ConfigError } from "../../lib/server/config.ts";

/** etcd 3.5's etcd.conf.yml.sample, comments dropped, with enable-v2 off (no v2 here). */
const ETCD_SAMPLE = `
name: 'default'
data-dir:
wal-dir:
snapshot-count: 10000
heartbeat-interval: 100
election-timeout: 1000
quota-backend-bytes: 0
listen-peer-urls: http://localhost:2380
listen-client-urls: http://localhost:2379
max-snapshots: 5
max-wals: 5
cors:
initial-advertise-peer-urls: http://localhost:2380
advertise-client-urls: http://localhost:2379
discovery:
discovery-fallback: 'proxy'
discovery-proxy:
discovery-srv:
initial-cluster:
initial-cluster-token: 'etcd-cluster'
initial-cluster-state: 'new'
strict-reconfig-check: false
enable-v2: false
enable-pprof: true
proxy: 'off'
proxy-failure-wait: 5000
proxy-refresh-interval: 30000
proxy-dial-timeout: 1000
proxy-write-timeout: 5000
proxy-read-timeout: 0
client-transport-security:
  cert-file:
  key-file:
  client-cert-auth: false
  trusted-ca-file:
  auto-tls: false
peer-transport-security:
  cert-file:
  key-file:
  client-cert-auth: false
  trusted-ca-file:
  auto-tls: false
  allowed-cn:
  allowed-hostname:
self-signed-cert-validity: 1
log-level: debug
logger: zap
log-outputs: [stderr]
force-new-cluster: false
auto-compaction-mode: periodic
auto-compaction-retention: "1"
`;

const files = (map: Record<string, string>) => (p: string) => {
  const text = map[p];
  if (text === undefined) throw new Deno.errors.NotFound(`no such file ${p}`);
  return text;
};

Deno.test("config file: etcd's sample loads with etcd's meanings", () => {
  const p = parseServeFlags(["--config-file", "etcd.yml"], {}, files({ "etcd.yml": ETCD_SAMPLE }));
  assert.equal(p.configFile, "etcd.yml");
  assert.equal(p.config.name, "default");
  assert.equal(p.config.dataDir, "default.concord");
  assert.equal(p.config.snapshotCount, 10000);
  assert.equal(p.config.strictReconfigCheck, false);
  assert.equal(p.config.logLevel, "debug");
  assert.deepEqual(p.settings.logOutputs, ["stderr"]);
  assert.equal(p.config.autoCompactionRetention, 3_600_000);
  assert.equal(p.config.listenClientUrls[0].href, "http://localhost:2379/");
  assert.ok(
    p.notices.some((n) =>
      n.msg.startsWith("loaded server configuration, other configuration command line flags") &&
      n.fields?.path === "etcd.yml"
    ),
  );
  assert.ok(p.notices.some((n) => n.fields?.flag === "enable-pprof" && n.level === "warn"));
});

Deno.test("config file: other flags and ETCD_* variables are ignored, as etcd ignores them", () => {
  const yml = [
    "name: n1",
    "data-dir: /data/n1",
    "listen-client-urls: http://127.0.0.1:12379,http://127.0.0.1:12380",
    "initial-cluster: n1=http://127.0.0.1:2380",
    "initial-advertise-peer-urls: http://127.0.0.1:2380",
    "backend-batch-interval: 50000000",
    "experimental-snapshot-catch-up-entries: 99",
    "client-transport-security:",
    "  cert-file: /tls/c.pem",
    "  key-file: /tls/k.pem",
    "  client-cert-auth: true",
    "  trusted-ca-file: /tls/ca.pem",
    "peer-transport-security:",
    "  cert-file: /tls/p.pem",
    "  key-file: /tls/pk.pem",
    "unknown-key: 1",
  ].join("\n");
  const p = parseServeFlags(
    ["--name", "other", "--config-file=c.yml", "--snapshot-count", "5"],
    { ETCD_DATA_DIR: "/elsewhere", ETCD_MAX_TXN_OPS: "3" },
    files({ "c.yml": yml }),
  );
  assert.equal(p.config.name, "n1");
  assert.equal(p.config.dataDir, "/data/n1");
  assert.equal(p.config.snapshotCount, 10_000);
  assert.equal(p.config.maxTxnOps, 128);
  assert.equal(p.config.listenClientUrls.length, 2);
  assert.equal(p.config.backendBatchIntervalMs, 50);
  assert.equal(p.settings.snapshotCatchUpEntries, 99);
  assert.deepEqual(p.config.tls, {
    certFile: "/tls/c.pem",
    keyFile: "/tls/k.pem",
    trustedCaFile: "/tls/ca.pem",
    clientCertAuth: true,
  });
  assert.equal(p.config.peerTls.certFile, "/tls/p.pem");
  assert.equal(p.config.peerTls.keyFile, "/tls/pk.pem");
  const ignored = p.notices.find((n) => n.msg.startsWith("command line flags ignored"));
  assert.deepEqual(ignored?.fields?.flags, ["name", "snapshot-count"]);
  assert.ok(p.notices.some((n) => n.fields?.key === "unknown-key"));
  // ETCD_CONFIG_FILE names the file as --config-file does
  const viaEnv = parseServeFlags([], { ETCD_CONFIG_FILE: "c.yml" }, files({ "c.yml": yml }));
  assert.equal(viaEnv.config.name, "n1");
});

Deno.test("config file: wrong types, unsupported values and unreadable files are refused", () => {
  const bad: [string, RegExp][] = [
    ["snapshot-count: '5'", /"snapshot-count" must be an integer/],
    ["strict-reconfig-check: 'yes'", /"strict-reconfig-check" must be true or false/],
    ["backend-batch-interval: 100ms", /nanoseconds/],
    ["log-outputs: {a: 1}", /"log-outputs" must be a list of strings/],
    ["discovery: https://discovery.etcd.io/x", /--discovery=.* is not supported by Concord/],
    ["enable-v2: true", /--enable-v2=true is not supported by Concord: .*v3/],
    ["client-transport-security:\n  auto-tls: true", /--auto-tls=true is not supported/],
    ["client-transport-security:\n  allowed-cn: [a]", /allowed-cn is not supported/],
    ["name: [1, 2]", /"name" must be a string/],
    ["- a\n- b", /top level must be a mapping/],
    ["name: x\ninitial-cluster: y=http://a:1", /couldn't find local name "x"/],
    ["a: [", /config file: /],
  ];
  for (const [yml, re] of bad) {
    assert.throws(
      () => parseServeFlags(["--config-file", "c.yml"], {}, files({ "c.yml": yml })),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
      yml,
    );
  }
  assert.throws(
    () => parseServeFlags(["--config-file", "missing.yml"], {}, files({})),
    (e: unknown) =>
      e instanceof ConfigError && /cannot read config file missing\.yml/.test(e.message),
  );
});
