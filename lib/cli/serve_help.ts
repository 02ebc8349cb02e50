/**
 * `concord serve --help` and `--version`, laid out as etcd 3.5's: the usage lines, then each
 * flag by section with its default in quotes and its help text, and the version lines etcd
 * prints (with Concord's facts: its version, the Deno runtime in place of Go's).
 */
import { ETCD_COMPAT_VERSION, VERSION } from "../base/version.ts";
import { type FlagDef, HELP_GROUPS } from "./serve_flag_types.ts";

const USAGE = `Usage:

  concord serve [flags]
    Start a Concord member (etcd's flags; each also settable as ETCD_<FLAG>, e.g. ETCD_DATA_DIR).

  concord serve --version
    Show the version of Concord and of the etcd API it serves.

  concord serve -h | --help
    Show the help information about concord serve.

  concord serve --config-file
    Path to the server configuration file (etcd's YAML format). Note that if a configuration file is provided, other command line flags and environment variables will be ignored.
`;

/** The help text: every flag of `flags` not hidden, by section, as etcd lays it out. */
export function serveHelp(flags: Readonly<Record<string, FlagDef>>): string {
  const out = [USAGE];
  for (const group of HELP_GROUPS) {
    const entries = Object.entries(flags).filter(([, d]) => d.group === group && !d.hidden);
    if (entries.length === 0) continue;
    out.push(`${group}:`);
    for (const [name, d] of entries) {
      out.push(
        d.kind === "bool" && d.default === "" ? `  --${name}` : `  --${name} '${d.default}'`,
      );
      for (const line of d.help.split("\n")) out.push(`    ${line}`);
      if (d.unsupported !== undefined) {
        out.push(
          d.unsupported.startsWith("accepted")
            ? `    Concord: ${d.unsupported}.`
            : `    Concord: only '${d.default}' is accepted (${d.unsupported}).`,
        );
      }
    }
    out.push("");
  }
  out.push(
    "Concord's /livez and /readyz answer as etcd 3.6's (?verbose, ?exclude=<check>).",
  );
  return out.join("\n");
}

/** Go's name for a CPU architecture, as etcd's "Go OS/Arch" line prints it. */
export function goArch(arch: string): string {
  return ({ x86_64: "amd64", aarch64: "arm64" } as Record<string, string>)[arch] ?? arch;
}

/** `concord serve --version`: etcd's four lines, with Concord's own line and runtime. */
export function serveVersion(): string {
  return [
    `etcd Version: ${ETCD_COMPAT_VERSION}`,
    `Concord Version: ${VERSION}`,
    "Git SHA: Not provided",
    `Deno Version: ${Deno.version.deno} (V8 ${Deno.version.v8}, TypeScript ${Deno.version.typescript})`,
    `Go OS/Arch: ${Deno.build.os}/${goArch(Deno.build.arch)}`,
  ].join("\n");
}
