/**
 * `concord util`: offline tools that work on a member's files without a running server, like
 * etcdutl. Each tool lives in its own file; this one dispatches.
 */
import { runWalUtil } from "./util_wal.ts";
import { runSnapshotUtil } from "./util_snapshot.ts";
import { runDefragUtil } from "./util_defrag.ts";
import { runHashKvUtil } from "./util_hashkv.ts";
import { runVerifyUtil } from "./util_verify.ts";

const USAGE = `usage: concord util <tool> …

Tools:
  wal verify --wal-dir DIR     check every WAL record and print a summary
  wal dump --wal-dir DIR       print what a WAL holds (--start-index N, --data)
  snapshot status FILE         verify a snapshot (etcdctl snapshot save) and print its status
  snapshot restore FILE --data-dir DIR [--name --initial-cluster --initial-cluster-token
                               --initial-advertise-peer-urls]  make a data dir serving it
                               (FILE: a Concord snapshot or an etcd one)
  snapshot export (FILE | --data-dir DIR) OUT
                               write an etcd snapshot (for etcdctl snapshot restore)
  defrag --data-dir DIR        compact a stopped member's page file in place (etcdutl defrag)
  hashkv FILE | --data-dir DIR [--rev N] [-w simple|json|table|fields]
                               the KV history hash the HashKV RPC gives (etcdutl hashkv)
  verify --data-dir DIR        check a stopped member's WAL, snapshots and page file agree
`;

/** Runs `concord util …` and returns the exit code. */
export async function runUtil(args: string[]): Promise<number> {
  const [tool, ...rest] = args;
  switch (tool) {
    case "wal":
      return await runWalUtil(rest);
    case "snapshot":
      return await runSnapshotUtil(rest);
    case "defrag":
      return await runDefragUtil(rest);
    case "hashkv":
      return await runHashKvUtil(rest);
    case "verify":
      return await runVerifyUtil(rest);
    case undefined:
      console.error(USAGE);
      return 2;
    case "help":
    case "--help":
    case "-h":
      console.log(USAGE);
      return 0;
    default:
      console.error(`concord util: unknown tool "${tool}"\n\n${USAGE}`);
      return 2;
  }
}
