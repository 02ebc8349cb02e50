/**
 * member, endpoint, alarm, defrag, snapshot save, move-leader and version: etcdctl 3.4 and
 * concord ctl print the same on twin etcd members and twin Concord members.
 */
import assert from "node:assert/strict";
import {
  normalizeRun,
  onBothKinds,
  runConcordCtl,
  runEtcdctl,
  same,
  sameOnOne,
} from "./ctl_compat.ts";

const ALL = ["simple", "json", "fields", "table"];
const LEARNER = "http://127.0.0.1:1";

Deno.test("member, endpoint, alarm, defrag, snapshot, move-leader and version as etcdctl", async () => {
  const dir = await Deno.makeTempDir({ prefix: "concord-ctl-" });
  try {
    await onBothKinds(async (twins) => {
      await same(twins, { args: ["put", "a", "1"] });
      for (const w of ALL) {
        await same(twins, { args: ["member", "list", "-w", w] });
        await same(twins, { args: ["endpoint", "status", "-w", w] });
        await same(twins, { args: ["endpoint", "status", "--cluster", "-w", w] });
        await same(twins, { args: ["endpoint", "health", "-w", w] });
        await same(twins, { args: ["endpoint", "hashkv", "-w", w] });
        await same(twins, { args: ["endpoint", "hashkv", "--cluster", "--rev", "2", "-w", w] });
      }
      for (const w of ["simple", "json", "table"]) {
        await same(twins, { args: ["alarm", "list", "-w", w] });
        await same(twins, { args: ["alarm", "disarm", "-w", w] });
      }
      await same(twins, { args: ["alarm", "list", "extra"] });
      for (const w of ["protobuf", "json", "fields"]) {
        await sameOnOne(twins, ["member", "list", "-w", w]);
        // etcdctl's fields printer dereferences the header-less alarm answer and panics
        if (w !== "fields") await sameOnOne(twins, ["alarm", "list", "-w", w]);
        await sameOnOne(twins, ["user", "list", "-w", w]);
      }
      await sameOnOne(twins, ["lease", "list", "-w", "protobuf"]);
      await sameOnOne(twins, ["lease", "timetolive", "1234", "-w", "protobuf"]);
      await same(twins, { args: ["defrag"] });
      await same(twins, { args: ["defrag", "--cluster"] });
      await same(twins, { args: ["move-leader"] });
      await same(twins, { args: ["move-leader", "xyz"] });
      await same(twins, { args: ["move-leader", "1234"] });
      await same(twins, { args: ["member", "remove"] });
      await same(twins, { args: ["member", "remove", "zz"] });
      await same(twins, { args: ["member", "add"] });
      await same(twins, { args: ["member", "add", "n2"] });
      await same(twins, { args: ["member", "add", "n2", "http://x:1"] });
      await same(twins, { args: ["member", "update", "1"] });
      await same(twins, { args: ["version"], mask: [/\d+\.\d+(\.\d+)?/g] });
      // snapshot save: the same message, and a file that concord util can read (Concord) or
      // of the same size as etcdctl's (etcd)
      const path = (side: string) => `${dir}/${twins.kind}-${side}.db`;
      await same(twins, {
        args: (s) => ["snapshot", "save", path(s)],
        mask: [/-[ab]\.db/g],
      });
      const [sa, sb] = [await Deno.stat(path("a")), await Deno.stat(path("b"))];
      assert.ok(sb.size > 0 && sa.size > 0);
      if (twins.kind === "concord") {
        // etcdctl 3.4 cannot read Concord's page file: ctl reads its own
        const r = await runConcordCtl(twins.b.url, ["snapshot", "status", path("b"), "-w", "json"]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^\{"hash":\d+,"revision":2,"totalKey":\d+,"totalSize":\d+\}\n$/);
      }
      if (twins.kind === "concord") {
        // Concord has no membership changes yet: the refusal is printed as etcdctl prints it
        await same(twins, {
          args: ["member", "add", "learner1", "--learner", "--peer-urls", LEARNER],
        });
        return;
      }
      // a learner added, listed, updated and removed (a learner leaves the quorum alone); its
      // id is random, and lists follow id order, so it is named and lines compared sorted
      const [ra, rb] = await Promise.all([
        runEtcdctl(twins.a.url, ["member", "add", "learner1", "--learner", "--peer-urls", LEARNER]),
        runConcordCtl(twins.b.url, [
          "member",
          "add",
          "learner1",
          "--learner",
          "--peer-urls",
          LEARNER,
        ]),
      ]);
      const idOf = (out: string) => {
        const m = /^Member\s+([0-9a-f]+) added/.exec(out);
        if (!m) throw new Error(`no member added: ${out}`);
        return m[1];
      };
      const id = { a: idOf(ra.stdout), b: idOf(rb.stdout) };
      const name = (raw: string) => ({
        [raw]: "<learner>",
        [BigInt("0x" + raw).toString()]: "<learner>",
      });
      const known = { a: name(id.a), b: name(id.b) };
      // the members' order follows their ids: the cluster line is checked apart
      const cl = /ETCD_INITIAL_CLUSTER="[^"]*"/;
      const addStep = { args: [], known, sortLines: true, mask: [cl] };
      assert.deepEqual(
        normalizeRun(rb, "b", twins, addStep),
        normalizeRun(ra, "a", twins, addStep),
      );
      assert.deepEqual(
        cl.exec(rb.stdout)?.[0].slice(22, -1).split(",").map((e) => e.split("=")[0]).sort(),
        ["default", "learner1"].sort(),
      );
      for (const w of ["simple", "fields"]) {
        await same(twins, { args: ["member", "list", "-w", w], known, sortLines: true });
      }
      await same(twins, { args: (s) => ["member", "promote", id[s]], known });
      await same(twins, {
        args: (s) => ["member", "update", id[s], "--peer-urls", "http://127.0.0.1:2"],
        known,
      });
      await same(twins, { args: (s) => ["member", "remove", id[s]], known });
      await same(twins, { args: (s) => ["member", "remove", id[s]], known });
      await same(twins, { args: ["member", "list"] });
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
