/**
 * lease grant/revoke/timetolive/list/keep-alive and watch (plain, --prev-kv, -- command, -i,
 * compacted, ETCDCTL_WATCH_KEY): etcdctl 3.4 and concord ctl print the same on twin etcd
 * members and twin Concord members.
 */
import { onBothKinds, runConcordCtl, runEtcdctl, same, sameUntil } from "./ctl_compat.ts";

/** The lease id `lease grant` printed. */
function leaseOf(stdout: string): string {
  const m = /^lease ([0-9a-f]{16}) granted/.exec(stdout);
  if (!m) throw new Error(`no lease in ${JSON.stringify(stdout)}`);
  return m[1];
}

const count = (s: string, what: string) => s.split(what).length - 1;

Deno.test("lease commands print what etcdctl prints", async () => {
  await onBothKinds(async (twins) => {
    const g = await same(twins, { args: ["lease", "grant", "100"] });
    // the twins' lease ids differ: grant one on each and use each side's own
    const [la, lb] = await Promise.all([
      runEtcdctl(twins.a.url, ["lease", "grant", "100"]),
      runConcordCtl(twins.b.url, ["lease", "grant", "100"]),
    ]);
    const id = { a: leaseOf(la.stdout), b: leaseOf(lb.stdout) };
    void g;
    const remaining = [/remaining\(\d+s\)/g, /"ttl":\d+/g, /"TTL" : \d+/g];
    for (const w of ["simple", "json", "fields", "table"]) {
      await same(twins, { args: ["lease", "grant", "50", "-w", w] });
    }
    await same(twins, { args: (s) => ["put", "lk", "v", "--lease", id[s]] });
    for (const w of ["simple", "json", "fields"]) {
      await same(twins, {
        args: (s) => ["lease", "timetolive", id[s], "--keys", "-w", w],
        mask: remaining,
      });
      await same(twins, { args: (s) => ["lease", "timetolive", id[s], "-w", w], mask: remaining });
      await same(twins, { args: (s) => ["lease", "keep-alive", "--once", id[s], "-w", w] });
    }
    for (const w of ["simple", "json", "fields"]) {
      await same(twins, { args: ["lease", "list", "-w", w] });
    }
    await same(twins, { args: ["get", "lk", "-w", "json"] });
    await same(twins, { args: (s) => ["lease", "revoke", id[s]] });
    await same(twins, { args: (s) => ["lease", "revoke", id[s]] });
    await same(twins, { args: (s) => ["lease", "timetolive", id[s]] });
    await same(twins, { args: (s) => ["lease", "timetolive", id[s], "-w", "json"] });
    await same(twins, { args: (s) => ["lease", "keep-alive", "--once", id[s]] });
    await same(twins, { args: ["get", "lk"] });
    await same(twins, { args: ["lease", "grant"] });
    await same(twins, { args: ["lease", "grant", "x"] });
    await same(twins, { args: ["lease", "revoke", "xyz"] });
    await same(twins, { args: ["lease", "timetolive"] });
    await same(twins, { args: ["lease", "keep-alive"] });

    // keep-alive until the lease is revoked under it
    const [ka, kb] = await Promise.all([
      runEtcdctl(twins.a.url, ["lease", "grant", "3"]),
      runConcordCtl(twins.b.url, ["lease", "grant", "3"]),
    ]);
    const k = { a: leaseOf(ka.stdout), b: leaseOf(kb.stdout) };
    await sameUntil(
      twins,
      {
        args: (s) => ["lease", "keep-alive", k[s]],
        // how many renewals fit before the revoke varies
        drop: /^lease <id\d+> keepalived with TTL\(3\)$/,
      },
      (out) => out.includes("expired or revoked"),
      async (side, url) => {
        await (side === "a" ? runEtcdctl : runConcordCtl)(url, ["lease", "revoke", k[side]]);
      },
    );
  });
});

Deno.test("watch prints what etcdctl prints", async () => {
  await onBothKinds(async (twins) => {
    // history: revisions 2..5
    for (
      const args of [["put", "w1", "a"], ["put", "w1", "b"], ["del", "w1"], ["put", "w2", "c"]]
    ) await same(twins, { args });
    for (const w of ["simple", "json", "fields"]) {
      await sameUntil(
        twins,
        { args: ["watch", "w", "--prefix", "--prev-kv", "--rev", "2", "-w", w] },
        (out) => out.includes("w2") || out.includes("dzI=") || count(out, '"Key" : "w2"') > 0,
      );
    }
    await sameUntil(
      twins,
      { args: ["watch", "w1", "--rev", "2"] },
      (out) => out.includes("DELETE"),
    );
    await sameUntil(
      twins,
      {
        args: [
          "watch",
          "w1",
          "w3",
          "--rev",
          "2",
          "--",
          "sh",
          "-c",
          "echo cmd $ETCD_WATCH_EVENT_TYPE $ETCD_WATCH_KEY $ETCD_WATCH_VALUE $ETCD_WATCH_REVISION",
        ],
      },
      (out) => count(out, "cmd ") === 4,
    );
    await sameUntil(
      twins,
      { args: ["watch", "--rev", "3"], env: { ETCDCTL_WATCH_KEY: "w1" } },
      (out) => out.includes("DELETE"),
    );
    await sameUntil(
      twins,
      { args: ["watch", "-i"], stdin: "watch w2 --rev 2\nfoo\n\n" },
      (out) => out.includes("w2\nc\n"),
    );
    await same(twins, { args: ["watch"] });
    await same(twins, { args: ["watch", "a", "b", "--prefix"] });
    await same(twins, { args: ["watch", "a", "--"] });
    await same(twins, { args: ["watch", "a"], env: { ETCDCTL_WATCH_KEY: "w1" } });
    await same(twins, { args: ["watch", "a"], env: { ETCDCTL_WATCH_RANGE_END: "w1" } });
    await same(twins, { args: ["compaction", "4"] });
    await same(twins, { args: ["watch", "w1", "--rev", "2"] });
  });
});
