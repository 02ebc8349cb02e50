/**
 * What the offline-tool tests share (util_offline_test.ts, util_snapshot_etcd_test.ts,
 * util_snapshot_export_test.ts): a `concord util` tool run in-process on the real disk, the
 * lines it prints captured.
 */
import type { UtilIo } from "../../lib/cli/util_io.ts";
import { runSnapshotUtil } from "../../lib/cli/util_snapshot.ts";
import { RealDisk } from "../../lib/io/real_disk.ts";

/** What one run printed and its exit code. */
export interface UtilRun {
  code: number;
  out: string;
  err: string;
}

/** Runs a tool (`runDefragUtil`, `runHashKvUtil`, …) with `args`, capturing its lines. */
export async function runTool(
  run: (args: string[], io: UtilIo) => Promise<number>,
  args: string[],
  progress?: (text: string) => void,
): Promise<UtilRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(args, {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    disk: new RealDisk(),
    progress,
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** Runs `concord util snapshot <args>`, capturing what it prints. */
export function snapshotUtil(args: string[]): Promise<UtilRun> {
  return runTool(runSnapshotUtil, args);
}
