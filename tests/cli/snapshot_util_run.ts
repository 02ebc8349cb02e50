/**
 * What the etcd-snapshot tests share (util_snapshot_etcd_test.ts, util_snapshot_export_test.ts):
 * `concord util snapshot …` run in-process on the real disk, its output captured.
 */
import { runSnapshotUtil } from "../../lib/cli/util_snapshot.ts";
import { RealDisk } from "../../lib/io/real_disk.ts";

/** What one run printed and its exit code. */
export interface UtilRun {
  code: number;
  out: string;
  err: string;
}

/** Runs `concord util snapshot <args>` in-process, capturing what it prints. */
export async function snapshotUtil(args: string[]): Promise<UtilRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runSnapshotUtil(args, {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    disk: new RealDisk(),
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}
