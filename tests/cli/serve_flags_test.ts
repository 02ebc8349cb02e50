import assert from "node:assert/strict";
import {
  envNameFor,
  parseAuthToken,
  parseGoDuration,
  parseServeFlags,
  serveHelp,
} from "../../lib/cli/serve_flags.ts";
import { ConfigError, DEFAULT_QUOTA_BYTES } from "../../lib/server/config.ts";

Deno.test("serve flags: etcd's defaults, data dir named after the member", () => {
  const { config } = parseServeFlags([]);
  assert.equal(config.name, "default");
  assert.equal(config.dataDir, "default.concord");
  assert.equal(config.listenClientUrls[0].href, "http://localhost:2379/");
  assert.equal(config.heartbeatIntervalMs, 100);
  assert.equal(config.electionTimeoutMs, 1000);
  assert.equal(config.snapshotCount, 10_000);
  assert.equal(config.maxRequestBytes, 1.5 * 1024 * 1024);
  assert.equal(config.maxTxnOps, 128);
  assert.equal(config.quotaBackendBytes, DEFAULT_QUOTA_BYTES);
  assert.deepEqual([...config.initialCluster.keys()], ["default"]);
});

Deno.test("serve flags: every form Go's flag package accepts", () => {
  const { config } = parseServeFlags([
    "--name",
    "n1",
    "-data-dir=/tmp/x",
    "--listen-client-urls=http://127.0.0.1:1,http://127.0.0.1:2",
    "--client-cert-auth=false",
    "--snapshot-count",
    "5",
    "--quota-backend-bytes=0",
    "--initial-advertise-peer-urls",
    "http://10.0.0.1:2380",
  ]);
  assert.equal(config.name, "n1");
  assert.equal(config.dataDir, "/tmp/x");
  assert.equal(config.listenClientUrls.length, 2);
  assert.equal(config.snapshotCount, 5);
  assert.equal(config.quotaBackendBytes, DEFAULT_QUOTA_BYTES);
  assert.equal(config.initialCluster.get("n1")?.[0].href, "http://10.0.0.1:2380/");
});

Deno.test("serve flags: ETCD_* environment variables, shadowed by flags", () => {
  assert.equal(envNameFor("data-dir"), "ETCD_DATA_DIR");
  const { config, notices } = parseServeFlags(["--name", "a"], {
    ETCD_NAME: "b",
    ETCD_DATA_DIR: "/data",
    ETCD_MAX_TXN_OPS: "7",
    ETCD_NO_SUCH_THING: "1",
    PATH: "/bin",
  });
  assert.equal(config.name, "a");
  assert.equal(config.dataDir, "/data");
  assert.equal(config.maxTxnOps, 7);
  const text = notices.map((n) => JSON.stringify(n));
  assert.ok(text.some((w) => w.includes("ETCD_NAME") && w.includes("shadowed")));
  assert.ok(text.some((w) => w.includes("ETCD_NO_SUCH_THING")));
});

Deno.test("serve flags: auto compaction retention follows the mode", () => {
  assert.equal(
    parseServeFlags(["--auto-compaction-retention", "1"]).config.autoCompactionRetention,
    3_600_000,
  );
  assert.equal(
    parseServeFlags(["--auto-compaction-retention=30m"]).config.autoCompactionRetention,
    1_800_000,
  );
  const rev = parseServeFlags([
    "--auto-compaction-retention=1000",
    "--auto-compaction-mode=revision",
  ]);
  assert.equal(rev.config.autoCompactionRetention, 1000);
  assert.equal(parseGoDuration("1h30m"), 5_400_000);
  assert.equal(parseGoDuration("100ms"), 100);
});

Deno.test("serve flags: bad input is refused with the flag named", () => {
  const bad: [string[], RegExp][] = [
    [["--no-such-flag"], /not defined: -no-such-flag/],
    [["--snapshot-count", "x"], /--snapshot-count/],
    [["--name"], /needs an argument/],
    [["--heartbeat-interval=300", "--election-timeout=1000"], /at least as 5 times/],
    [["--initial-cluster-state", "old"], /initial-cluster-state/],
    [["--listen-client-urls", "https://127.0.0.1:2379"], /--cert-file/],
    [["--name", "x", "--initial-cluster", "y=http://a:1"], /couldn't find local name "x"/],
    [["--auth-token", "jwt,sign-method=RS256"], /priv-key or pub-key/],
  ];
  for (const [args, message] of bad) {
    assert.throws(
      () => parseServeFlags(args),
      (err: unknown) => err instanceof ConfigError && message.test(err.message),
    );
  }
});

Deno.test("serve flags: jwt token options and help text", () => {
  assert.deepEqual(parseAuthToken("jwt,priv-key=k.pem,sign-method=ES256,ttl=10m"), {
    kind: "jwt",
    signMethod: "ES256",
    privKey: "k.pem",
    ttlSeconds: 600,
  });
  assert.ok(
    serveHelp().includes("\n  --listen-client-urls 'http://localhost:2379'\n    List of URLs"),
  );
  assert.equal(parseServeFlags(["--help"]).help, true);
});

Deno.test("serve flags: --cors as etcd's (empty or * for any; origins without paths)", () => {
  const cors = (args: string[], env: Record<string, string> = {}) =>
    parseServeFlags(args, env).config.corsOrigins;
  assert.deepEqual(cors([]), ["*"]);
  assert.deepEqual(cors(["--cors="]), ["*"]);
  assert.deepEqual(cors(["--cors", "*"]), ["*"]);
  assert.deepEqual(
    cors(["--cors", "http://127.0.0.1:8080, https://Console.Example:443,https://console.example"]),
    ["http://127.0.0.1:8080", "https://console.example"],
  );
  assert.deepEqual(cors([], { ETCD_CORS: "http://a.example:1" }), ["http://a.example:1"]);
  for (
    const [value, why] of [
      ["http://a.example:1/ui", "URL must not contain a path"],
      ["http://a.example:1/", "URL must not contain a path"],
      ["ftp://a.example:1", "URL scheme must be http or https"],
      ["unix://sock", "URL scheme must be http or https"],
      ["a.example:1", "not an origin"],
      ["http://a.example:1,*", "cannot be listed with others"],
      ["http://u@a.example", "not an origin"],
    ]
  ) {
    assert.throws(
      () => parseServeFlags(["--cors", value]),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message.startsWith(`invalid value "${value}" for flag --cors: `) &&
        e.message.includes(why),
      value,
    );
  }
});
