/**
 * check datascale (10,000 puts from 50 workers, memory read from /metrics) and the checks'
 * argument errors: etcdctl 3.4 and concord ctl print the same lines on etcd and Concord twins,
 * apart from the megabytes measured and etcdctl's progress bar. check perf runs 60 s, so only
 * its refusals are compared here.
 */
import { onBothKinds, same } from "./ctl_compat.ts";

Deno.test("check datascale and the checks' errors print what etcdctl prints", async () => {
  await onBothKinds(async (twins) => {
    await same(twins, {
      args: ["check", "datascale", "--auto-compact", "--auto-defrag"],
      mask: [/used : [^\n]*/g, /^[^\n]*\r[^\n]*$/gm, /revision \d+/g],
      // etcdctl's progress bar (redrawn with \r) is alone on the line ctl leaves empty
      drop: /^(<masked>)?$/,
    });
    await same(twins, { args: ["check", "perf", "--load", "huge"] });
    await same(twins, { args: ["check", "datascale", "--load", "huge"] });
    await same(twins, { args: ["put", "/etcdctl-check-perf/x", "v"] });
    await same(twins, { args: ["check", "perf"] });
    await same(twins, { args: ["put", "/etcdctl-check-datascale/x", "v"] });
    await same(twins, { args: ["check", "datascale"] });
  });
});
