import assert from "node:assert/strict";
import { createLogger, lineLogger, nullLogger, tookField } from "../../lib/base/log.ts";

Deno.test("log: zap's JSON line (level, ts, caller, msg, then fields in order)", () => {
  const lines: string[] = [];
  const log = createLogger({
    write: (l) => lines.push(l),
    now: () => Date.UTC(2026, 11, 7, 7, 10),
  });
  log.named("server/member").info("elected leader", {
    "local-member-id": "8e9e05c52164694d",
    term: 2n,
    big: 2n ** 64n - 1n,
    urls: [new URL("http://a:1")],
    error: new Error("boom"),
    skipped: undefined,
  });
  assert.equal(
    lines[0],
    '{"level":"info","ts":"2026-12-07T07:10:00.000Z","caller":"server/member","msg":"elected leader",' +
      '"local-member-id":"8e9e05c52164694d","term":2,"big":"18446744073709551615",' +
      '"urls":["http://a:1/"],"error":"boom"}',
  );
  log.info("no caller");
  assert.equal(JSON.parse(lines[1]).caller, undefined);
});

Deno.test("log: --log-level drops what is below it; etcd's panic and fatal silence error too", () => {
  const lines: string[] = [];
  const warn = createLogger({ level: "warn", write: (l) => lines.push(l) });
  warn.debug("d");
  warn.info("i");
  warn.warn("w");
  warn.error("e");
  assert.deepEqual(lines.map((l) => JSON.parse(l).level), ["warn", "error"]);
  assert.equal(warn.enabled("info"), false);
  assert.equal(warn.enabled("error"), true);
  const fatal = createLogger({ level: "fatal", write: (l) => lines.push(l) });
  fatal.error("e");
  assert.equal(lines.length, 2);
  assert.equal(nullLogger.enabled("error"), false);
});

Deno.test("log: a line sink gets 'concord: msg key=value'; durations as Go prints them", () => {
  const lines: string[] = [];
  lineLogger((l) => lines.push(l)).warn("lost leader", { term: 3, "lost-leader": "a1" });
  assert.deepEqual(lines, ['concord: lost leader term=3 lost-leader="a1"']);
  assert.equal(tookField(2.727624), "2.727624ms");
  assert.equal(tookField(0.25), "250µs");
  assert.equal(tookField(1500), "1.5s");
});
