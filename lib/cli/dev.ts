/**
 * `concord dev`: a local cluster in one command (etcd ships a Procfile for goreman for the
 * same job). Starts N `concord serve` processes on loopback ports, each with its own data dir
 * under one directory, prints the endpoints and the etcdctl line to use, streams each member's
 * log prefixed with its name, and stops every member on Ctrl-C (SIGINT or SIGTERM), each
 * given the chance to stop cleanly. Real processes, so a member can be killed or paused to
 * see the cluster go on.
 */

const USAGE = `Usage: concord dev [flags]

Starts a local cluster of concord serve processes on 127.0.0.1 and stops it on Ctrl-C.

Flags:
  --members N        members to start (default 3; 1, 3, 5 or 7)
  --data-dir DIR     where the members' data dirs go (default dev.concord): DIR/m1, DIR/m2, ...
  --wipe             remove the members' data dirs first (default: keep them, so a restarted
                     cluster has its data)
  --base-port P      client port of m1 (default 2379; then 22379, 32379, ... and peer ports
                     12380, 22380, ... as in etcd's Procfile). With P other than 2379, member i
                     uses client port P+2(i-1) and peer port P+2(i-1)+1.
  -h, --help         this help
`;

/** The dev cluster's settings. */
export interface DevOptions {
  members: number;
  dataDir: string;
  wipe: boolean;
  basePort: number;
}

/** One member's name and addresses. */
export interface DevMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
}

/** Parses `concord dev` flags; throws an Error naming a bad flag. */
export function parseDevFlags(args: string[]): DevOptions {
  const o: DevOptions = { members: 3, dataDir: "dev.concord", wipe: false, basePort: 2379 };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new Error(`flag needs an argument: ${flag}`);
      return v;
    };
    switch (flag) {
      case "--members": {
        const n = Number(value());
        if (![1, 3, 5, 7].includes(n)) throw new Error(`--members must be 1, 3, 5 or 7`);
        o.members = n;
        break;
      }
      case "--data-dir":
        o.dataDir = value();
        break;
      case "--wipe":
        o.wipe = inline === undefined || inline === "true";
        break;
      case "--base-port": {
        const p = Number(value());
        if (!Number.isInteger(p) || p < 1 || p > 65535) {
          throw new Error(`--base-port must be a port number`);
        }
        o.basePort = p;
        break;
      }
      default:
        throw new Error(`unknown flag ${args[i]}`);
    }
  }
  return o;
}

/** The members' names, URLs and data dirs. */
export function devMembers(o: DevOptions): DevMember[] {
  return Array.from({ length: o.members }, (_, i) => {
    const procfile = o.basePort === 2379;
    const client = procfile ? (i === 0 ? 2379 : (i + 1) * 10000 + 2379) : o.basePort + 2 * i;
    const peer = procfile ? (i + 1) * 10000 + 2380 : o.basePort + 2 * i + 1;
    if (client > 65535 || peer > 65535) throw new Error(`--base-port leaves no room for m${i + 1}`);
    return {
      name: `m${i + 1}`,
      clientUrl: `http://127.0.0.1:${client}`,
      peerUrl: `http://127.0.0.1:${peer}`,
      dataDir: `${o.dataDir}/m${i + 1}`,
    };
  });
}

/** The flags member `m` starts with (etcd's, as for any cluster). */
export function devServeArgs(m: DevMember, all: DevMember[]): string[] {
  return [
    `--name=${m.name}`,
    `--data-dir=${m.dataDir}`,
    `--listen-client-urls=${m.clientUrl}`,
    `--advertise-client-urls=${m.clientUrl}`,
    `--listen-peer-urls=${m.peerUrl}`,
    `--initial-advertise-peer-urls=${m.peerUrl}`,
    `--initial-cluster=${all.map((x) => `${x.name}=${x.peerUrl}`).join(",")}`,
    "--initial-cluster-token=concord-dev",
    "--initial-cluster-state=new",
  ];
}

/**
 * How to run `concord serve` again: the compiled binary is itself; under `deno run` it is
 * Deno with this checkout's main.ts.
 */
function selfCommand(): { cmd: string; prefix: string[] } {
  const exec = Deno.execPath();
  if (/(^|[\\/])deno(\.exe)?$/.test(exec)) {
    return { cmd: exec, prefix: ["run", "-A", new URL("../../main.ts", import.meta.url).pathname] };
  }
  return { cmd: exec, prefix: [] };
}

/** Copies a child's output to ours, each line prefixed with the member's name. */
async function prefixLines(
  name: string,
  stream: ReadableStream<Uint8Array>,
  out: (line: string) => void,
): Promise<void> {
  let rest = "";
  const decoder = new TextDecoder();
  for await (const bytes of stream) {
    const lines = (rest + decoder.decode(bytes, { stream: true })).split("\n");
    rest = lines.pop() ?? "";
    for (const l of lines) out(`${name} | ${l}`);
  }
  if (rest !== "") out(`${name} | ${rest}`);
}

/** Runs `concord dev …`; returns the exit code once every member has stopped. */
export async function runDev(args: string[]): Promise<number> {
  if (args.includes("-h") || args.includes("--help")) {
    console.log(USAGE);
    return 0;
  }
  let o: DevOptions;
  let members: DevMember[];
  try {
    o = parseDevFlags(args);
    members = devMembers(o);
  } catch (err) {
    console.error(`concord dev: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (o.wipe) {
    for (const m of members) await Deno.remove(m.dataDir, { recursive: true }).catch(() => {});
  }
  await Deno.mkdir(o.dataDir, { recursive: true });
  const { cmd, prefix } = selfCommand();
  const write = (line: string) => console.log(line);
  const children = members.map((m) => {
    const child = new Deno.Command(cmd, {
      args: [...prefix, "serve", ...devServeArgs(m, members)],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const logs = Promise.all([
      prefixLines(m.name, child.stdout, write),
      prefixLines(m.name, child.stderr, write),
    ]);
    return { m, child, logs };
  });
  const endpoints = members.map((m) => m.clientUrl.replace("http://", "")).join(",");
  console.log(
    `concord dev: ${members.length} members, data in ${o.dataDir}/\n` +
      members.map((m) => `  ${m.name}  client ${m.clientUrl}  peer ${m.peerUrl}`).join("\n") +
      `\nUse it:  ETCDCTL_API=3 etcdctl --endpoints=${endpoints} member list -w table\n` +
      `Stop it: Ctrl-C\n`,
  );
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    console.log("concord dev: stopping every member");
    for (const c of children) {
      try {
        c.child.kill("SIGTERM");
      } catch {
        // already exited
      }
    }
  };
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, stop);
  try {
    // a member that exits on its own (a bad flag, a port in use) takes the others down
    const first = await Promise.race(children.map((c) => c.child.status.then(() => c)));
    if (!stopping) {
      console.error(`concord dev: ${first.m.name} exited; stopping the others`);
      stop();
    }
    const codes = await Promise.all(children.map((c) => c.child.status));
    await Promise.all(children.map((c) => c.logs));
    return codes.every((s) => s.success || s.signal === "SIGTERM") && stopping ? 0 : 1;
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, stop);
  }
}
