/**
 * `concord util`: offline tools that work on a member's files without a running server, like
 * etcdutl. Each tool lives in its own file; this one dispatches.
 */
import { runWalUtil } from "./util_wal.ts";
import { runSnapshotUtil } from "./util_snapshot.ts";

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
`;

/** Runs `concord util …` and returns the exit code. */
export async function runUtil(args: string[]): Promise<number> {
  const [tool, ...rest] = args;
  switch (tool) {
    case "wal":
      return await runWalUtil(rest);
    case "snapshot":
      return await runSnapshotUtil(rest);
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
