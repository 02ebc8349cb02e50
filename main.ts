/**
 * The Concord executable: `concord serve | ctl … | util … | version | help`.
 * Each command lives in its layer; this file only dispatches.
 */
import { VERSION } from "./lib/base/version.ts";
import { runUtil } from "./lib/cli/util.ts";
import { runServe } from "./lib/cli/serve.ts";
import { runCtl } from "./lib/cli/ctl.ts";
import { runDev } from "./lib/cli/dev.ts";

const USAGE = `Concord ${VERSION}: an etcd-v3-compatible, strongly consistent key-value store.

Usage: concord <command> [flags]

Commands:
  serve     run a Concord member (etcd's flags: --name, --data-dir, --listen-client-urls, ...)
  ctl       etcdctl's commands, flags and output formats: get, put, txn, watch, lease, ...
  util      offline tools on member files, like etcdutl: snapshot, wal, defrag, hashkv, verify
  dev       a local cluster in one command: 3 members on loopback ports, stopped by Ctrl-C
  version   print the version
  help      print this help

`;

/** Runs the executable with `args` and returns the process exit code. */
export async function run(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case undefined:
    case "help":
    case "-h":
    case "--help":
      console.log(USAGE);
      return 0;
    case "version":
    case "--version":
      console.log(`concord version ${VERSION}`);
      return 0;
    case "util":
      return await runUtil(rest);
    case "serve":
      return await runServe(rest);
    case "ctl":
      return await runCtl(rest);
    case "dev":
      return await runDev(rest);
    default:
      console.error(`concord: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

if (import.meta.main) {
  Deno.exit(await run(Deno.args));
}
