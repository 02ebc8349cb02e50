/**
 * user, role, auth enable/disable with --user/--password, lock and elect: etcdctl 3.4 and
 * concord ctl print the same on twin etcd members and twin Concord members.
 */
import { onBothKinds, same, sameUntil, type Step } from "./ctl_compat.ts";

const FORMATS = ["simple", "json", "fields"];

const PER_FORMAT = (w: string): Step[] => [
  { args: ["user", "add", `u${w}:pw`, "-w", w] },
  { args: ["role", "add", `r${w}`, "-w", w] },
  { args: ["role", "grant-permission", `r${w}`, "readwrite", "a", "b", "-w", w] },
  { args: ["role", "grant-permission", `r${w}`, "read", "--prefix", "p/", "-w", w] },
  { args: ["role", "grant-permission", `r${w}`, "write", "--from-key", "z", "-w", w] },
  { args: ["role", "grant-permission", `r${w}`, "READ", "k1", "-w", w] },
  { args: ["role", "grant-permission", `r${w}`, "read", "", "--prefix", "-w", w] },
  { args: ["user", "grant-role", `u${w}`, `r${w}`, "-w", w] },
  { args: ["role", "get", `r${w}`, "-w", w] },
  { args: ["user", "get", `u${w}`, "-w", w] },
  { args: ["user", "get", `u${w}`, "--detail", "-w", w] },
  { args: ["user", "list", "-w", w] },
  { args: ["role", "list", "-w", w] },
  { args: ["role", "revoke-permission", `r${w}`, "a", "b", "-w", w] },
  { args: ["role", "revoke-permission", `r${w}`, "k1", "-w", w] },
  { args: ["role", "revoke-permission", `r${w}`, "z", "--from-key", "-w", w] },
  { args: ["user", "revoke-role", `u${w}`, `r${w}`, "-w", w] },
  { args: ["user", "passwd", `u${w}`, "--interactive=false", "-w", w], stdin: "np\n" },
  { args: ["user", "delete", `u${w}`, "-w", w] },
  { args: ["role", "delete", `r${w}`, "-w", w] },
];

const SCRIPT: Step[] = [
  ...FORMATS.flatMap(PER_FORMAT),
  { args: ["user", "add", "viaflag", "--new-user-password", "pw"] },
  { args: ["user", "add", "viastdin", "--interactive=false"], stdin: "secret\n" },
  { args: ["user", "add", ":pw"] },
  { args: ["user", "add"] },
  { args: ["user", "add", "viaflag:pw"] },
  { args: ["user", "get", "nobody"] },
  { args: ["user", "delete", "nobody"] },
  { args: ["user", "grant-role", "viaflag"] },
  { args: ["user", "grant-role", "viaflag", "norole"] },
  { args: ["role", "add"] },
  { args: ["role", "get", "norole"] },
  { args: ["role", "grant-permission", "x", "sideways", "k"] },
  { args: ["role", "grant-permission", "x", "read"] },
  { args: ["role", "grant-permission", "x", "read", "k", "--prefix", "--from-key"] },
  { args: ["role", "grant-permission", "x", "read", "k", "l", "--prefix"] },
  { args: ["role", "revoke-permission", "x"] },
  // a user given while auth is off is ignored, as clientv3 ignores it
  { args: ["--user", "nobody:pw", "put", "k", "v0"] },
  { args: ["--user", "nobody:pw", "endpoint", "health"] },
  { args: ["auth", "enable"] },
  { args: ["user", "add", "root:rootpw"] },
  { args: ["auth", "enable", "extra"] },
  { args: ["auth", "enable"] },
  { args: ["put", "k", "v"] },
  { args: ["--user", "root:rootpw", "put", "k", "v"] },
  { args: ["--user", "root", "--password", "rootpw", "get", "k"] },
  { args: ["--user", "root:wrong", "get", "k"] },
  { args: ["--user", "viaflag:pw", "get", "k"] },
  { args: ["--user", "root:wrong", "endpoint", "health", "-w", "json"] },
  { args: ["--user", "root:wrong", "endpoint", "status"] },
  { args: ["--user", "root:rootpw", "user", "list"] },
  { args: ["--user", "root:rootpw", "role", "list", "-w", "json"] },
  { args: ["auth", "disable"] },
  { args: ["--user", "root:rootpw", "auth", "disable"] },
  { args: ["get", "k"] },
];

Deno.test("user, role and auth print what etcdctl prints", async () => {
  await onBothKinds(async (twins) => {
    for (const step of SCRIPT) await same(twins, step);
  });
});

Deno.test("lock and elect print what etcdctl prints", async () => {
  await onBothKinds(async (twins) => {
    await same(twins, { args: ["put", "before", "x"] });
    await sameUntil(twins, { args: ["lock", "mylock"] }, (out) => out.includes("mylock/"));
    await same(twins, {
      args: ["lock", "l2", "--", "sh", "-c", "echo held $ETCD_LOCK_KEY $ETCD_LOCK_REV"],
    });
    await same(twins, { args: ["lock", "l3", "false"] });
    await same(twins, { args: ["lock"] });
    await sameUntil(
      twins,
      { args: ["elect", "myelection", "proposal-1"] },
      (out) => out.includes("proposal-1"),
    );
    // observation: an etcdctl campaigner leads on each twin, both tools observe it
    const campaigners = [twins.a.url, twins.b.url].map((url) =>
      new Deno.Command("etcdctl", {
        args: ["--endpoints", url, "elect", "obs", "leader-1"],
        env: { ETCDCTL_API: "3" },
        stdout: "piped",
        stderr: "null",
      }).spawn()
    );
    try {
      await Promise.all(campaigners.map(async (p) => {
        const r = p.stdout.getReader();
        let seen = "";
        while (!seen.includes("leader-1")) {
          const { value, done } = await r.read();
          if (done) throw new Error(`campaign ended early: ${seen}`);
          seen += new TextDecoder().decode(value);
        }
        r.releaseLock();
      }));
      await sameUntil(twins, { args: ["elect", "-l", "obs"] }, (out) => out.includes("leader-1"));
    } finally {
      for (const p of campaigners) p.kill("SIGINT");
      for (const p of campaigners) {
        await p.stdout.cancel();
        await p.status;
      }
    }
    await same(twins, { args: ["elect"] });
    await same(twins, { args: ["elect", "e"] });
    await same(twins, { args: ["elect", "-l", "e", "p"] });
  });
});
