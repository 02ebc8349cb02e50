/**
 * get, put, del, txn and compaction: etcdctl 3.4 and concord ctl print the same, in every
 * output format and for the argument errors, on twin etcd members and twin Concord members.
 */
import { onBothKinds, same, sameOnOne, type Step } from "./ctl_compat.ts";

const FORMATS = ["simple", "json", "fields", "table"];

const TXN_IN =
  'mod("foo") > "0"\nval("foo2") = "bar 2"\n\nput t1 "v 1"\nget foo --prefix\ndel nope\n\n' +
  "get foo\n\n";

const SCRIPT: Step[] = [
  { args: ["put", "foo", "bar"] },
  { args: ["put", "foo2", "bar 2"] },
  { args: ["put", "foo3", "-w", "json", "--", "-dash"] },
  { args: ["put", "from-stdin"], stdin: "line one\nline two\n" },
  { args: ["put", "nothing"], stdin: "" },
  { args: ["put"] },
  { args: ["put", "k", "v", "--lease", "zz"] },
  ...FORMATS.map((w) => ({ args: ["put", "foo", "baz", "--prev-kv", "-w", w] })),
  ...FORMATS.map((w) => ({ args: ["get", "foo", "--prefix", "-w", w] })),
  { args: ["get", "foo", "--prefix", "--hex"] },
  { args: ["get", "foo", "--prefix", "--print-value-only"] },
  { args: ["get", "foo", "--prefix", "--print-value-only", "-w", "json"] },
  { args: ["get", "foo", "--keys-only", "-w", "json"] },
  { args: ["get", "foo", "--prefix", "--limit", "1", "-w", "json"] },
  { args: ["get", "foo", "--prefix", "--sort-by", "VALUE", "--order", "DESCEND"] },
  { args: ["get", "foo", "--prefix", "--sort-by", "CREATE"] },
  { args: ["get", "foo", "--prefix", "--order", "DESCEND", "--limit", "2"] },
  { args: ["get", "foo", "foo3", "-w", "fields"] },
  { args: ["get", "", "--prefix", "--keys-only"] },
  { args: ["get", "foo", "--from-key"] },
  { args: ["get", "foo", "--rev", "2", "-w", "json"] },
  { args: ["get", "foo", "--consistency", "s"] },
  { args: ["get", "foo", "--consistency", "x"] },
  { args: ["get", "foo", "--order", "sideways"] },
  { args: ["get", "foo", "--sort-by", "color"] },
  { args: ["get", "foo", "--prefix", "--from-key"] },
  { args: ["get", "foo", "bar", "--prefix"] },
  { args: ["get"] },
  { args: ["get", "nope", "-w", "json"] },
  { args: ["-w", "yaml", "get", "foo"] },
  // global flags from ETCDCTL_* variables (one the command line also sets is refused); a
  // command's own flags are not read from the environment
  { args: ["get", "foo"], env: { ETCDCTL_WRITE_OUT: "json" } },
  {
    args: ["get", "foo", "-w", "fields"],
    env: { ETCDCTL_WRITE_OUT: "json" },
    mask: [/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}/],
  },
  { args: ["get", "foo"], env: { ETCDCTL_HEX: "true" } },
  {
    args: ["get", "fo"],
    env: { ETCDCTL_PREFIX: "true" },
    mask: [/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}/],
  },
  { args: ["txn"], stdin: TXN_IN },
  { args: ["txn", "-w", "json"], stdin: TXN_IN },
  { args: ["txn", "-w", "fields"], stdin: TXN_IN },
  { args: ["txn", "-i"], stdin: 'version("zz") = "1"\n\nput a b\n\nget foo\n\n' },
  {
    args: ["txn"],
    stdin: 'c("foo") = "2"\nm("foo") != "1"\nver("foo") < "100"\nvalue("foo") = "baz"\n\n\n\n',
  },
  { args: ["txn"], stdin: "bad\n" },
  { args: ["txn"], stdin: 'ver("a") = "x"\n' },
  { args: ["txn"], stdin: 'nope("a") = "x"\n' },
  { args: ["txn"], stdin: "\nput a\n" },
  { args: ["txn"], stdin: "\nfrob a b\n\n" },
  { args: ["txn"], stdin: "\n" },
  { args: ["txn", "extra"] },
  ...["simple", "json", "fields"].map((w) => ({ args: ["del", "foo2", "--prev-kv", "-w", w] })),
  { args: ["del", "foo", "--prefix"] },
  { args: ["del", "absent"] },
  { args: ["del"] },
  { args: ["del", "a", "b", "c"] },
  { args: ["compaction", "3"] },
  { args: ["compaction", "3"] },
  { args: ["compaction", "1000"] },
  { args: ["compaction", "x"] },
  { args: ["get", "foo", "--rev", "2"] },
  { args: ["get", "", "--prefix", "-w", "json"] },
];

Deno.test("get, put, del, txn and compaction print what etcdctl prints", async () => {
  await onBothKinds(async (twins) => {
    for (const step of SCRIPT) await same(twins, step);
    await same(twins, { args: ["put", "pb", "v"] });
    for (
      const args of [
        ["get", "pb", "-w", "protobuf"],
        ["get", "", "--prefix", "-w", "protobuf"],
        ["del", "absent", "-w", "protobuf"],
        ["txn", "-w", "protobuf"],
        ["get", "", "--prefix", "-w", "json"],
        ["get", "", "--prefix", "-w", "fields"],
      ]
    ) await sameOnOne(twins, args);
  });
});
