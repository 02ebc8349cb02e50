/**
 * What every `concord ctl` command is made of: its spec (name, usage, flags, run) and the
 * context a run gets (parsed flags, printer, output, stdin, the interrupt signal, and the
 * client built from the global flags on first use).
 */
import type { FlagSpec, ParsedFlags } from "./ctl_flags.ts";
import type { CtlOutput, Printer } from "./ctl_print.ts";
import type { StdinReader } from "./ctl_stdin.ts";
import { CtlExit, Exit } from "./ctl_exit.ts";
import { SimplePrinter } from "./ctl_print_simple.ts";
import { JsonPrinter } from "./ctl_print_json.ts";
import { FieldsPrinter } from "./ctl_print_fields.ts";
import { TablePrinter } from "./ctl_print_table.ts";
import { ProtobufPrinter } from "./ctl_print_protobuf.ts";

/** etcdctl's global flags (ctl.go), with its defaults. */
export const GLOBAL_FLAGS: FlagSpec[] = [
  { name: "endpoints", kind: "strings", def: ["127.0.0.1:2379"], help: "gRPC endpoints" },
  { name: "debug", kind: "bool", def: false, help: "enable client-side debug logging" },
  {
    name: "write-out",
    short: "w",
    kind: "string",
    def: "simple",
    help: "set the output format (fields, json, protobuf, simple, table)",
  },
  { name: "hex", kind: "bool", def: false, help: "print byte strings as hex encoded strings" },
  {
    name: "dial-timeout",
    kind: "duration",
    def: 2000,
    help: "dial timeout for client connections",
  },
  {
    name: "command-timeout",
    kind: "duration",
    def: 5000,
    help: "timeout for short running command (excluding dial timeout)",
  },
  {
    name: "keepalive-time",
    kind: "duration",
    def: 2000,
    help: "keepalive time for client connections",
  },
  {
    name: "keepalive-timeout",
    kind: "duration",
    def: 6000,
    help: "keepalive timeout for client connections",
  },
  {
    name: "insecure-transport",
    kind: "bool",
    def: true,
    help: "disable transport security for client connections",
  },
  {
    name: "insecure-discovery",
    kind: "bool",
    def: true,
    help: "accept insecure SRV records describing cluster endpoints",
  },
  {
    name: "insecure-skip-tls-verify",
    kind: "bool",
    def: false,
    help: "skip server certificate verification (CAUTION: this option should be enabled " +
      "only for testing purposes)",
  },
  {
    name: "cert",
    kind: "string",
    def: "",
    help: "identify secure client using this TLS certificate file",
  },
  { name: "key", kind: "string", def: "", help: "identify secure client using this TLS key file" },
  {
    name: "cacert",
    kind: "string",
    def: "",
    help: "verify certificates of TLS-enabled secure servers using this CA bundle",
  },
  {
    name: "user",
    kind: "string",
    def: "",
    help: "username[:password] for authentication (prompt if password is not supplied)",
  },
  {
    name: "password",
    kind: "string",
    def: "",
    help: "password for authentication (if this option is used, --user option shouldn't " +
      "include password)",
  },
  {
    name: "discovery-srv",
    short: "d",
    kind: "string",
    def: "",
    help: "domain name to query for SRV records describing cluster endpoints",
  },
  {
    name: "discovery-srv-name",
    kind: "string",
    def: "",
    help: "service name to query when using DNS discovery",
  },
];

/** The I/O a ctl run uses; main.ts passes the process's, tests their own. */
export interface CtlIo extends CtlOutput {
  stdin: StdinReader;
  env: Readonly<Record<string, string>>;
  /** Aborted on SIGINT/SIGTERM: ends watch, lock, elect and keep-alive as etcdctl's. */
  interrupt: AbortSignal;
  /** stderr is a terminal (snapshot save then shows its progress). */
  terminal?: boolean;
  /**
   * Asks for a password on the terminal without echo (speakeasy's Ask in etcdctl); absent
   * when stdin is not a terminal.
   */
  askPassword?: (prompt: string) => Promise<string>;
}

/** One command (a leaf of etcdctl's command tree). */
export interface CommandSpec {
  /** e.g. ["lease", "grant"] */
  path: string[];
  /** The usage line after the command path, e.g. "[options] <key> [range_end]". */
  use: string;
  short: string;
  flags: FlagSpec[];
  run(ctx: CtlContext): Promise<void>;
}

/**
 * A command's run: flags, arguments, output. The client is made lazily by `connect` (set by
 * the dispatcher), so argument errors are reported before any connection is tried, as in
 * etcdctl.
 */
export class CtlContext {
  #printer?: Printer;
  /** The password typed at the prompt for a --user without one. */
  typedPassword?: string;
  constructor(
    readonly spec: CommandSpec,
    readonly flags: ParsedFlags,
    readonly io: CtlIo,
    /** The arguments after the command path as given, `--` included (watch needs them). */
    readonly rawArgs: string[],
  ) {}

  /** Positional arguments (cobra's `args`). */
  get args(): string[] {
    return this.flags.positional;
  }

  /** The printer `-w`/`--hex` select; an unknown format is ExitBadFeature. */
  get printer(): Printer {
    if (!this.#printer) {
      this.#printer = newPrinter(this.flags.string("write-out"), this.flags.bool("hex"), this.io);
    }
    return this.#printer;
  }

  /** The command timeout in milliseconds. */
  get commandTimeoutMs(): number {
    return this.flags.duration("command-timeout");
  }

  /**
   * A call's options under etcdctl's commandCtx: --command-timeout as the deadline (failing
   * with "context deadline exceeded"), cancelled on interrupt.
   */
  callOptions(): { timeoutMs: number; signal: AbortSignal } {
    return { timeoutMs: this.commandTimeoutMs, signal: this.io.interrupt };
  }

  out(text: string | Uint8Array): void {
    this.io.out(text);
  }
  err(text: string): void {
    this.io.err(text);
  }
}

/** etcdctl's NewPrinter. */
export function newPrinter(format: string, isHex: boolean, o: CtlOutput): Printer {
  switch (format) {
    case "simple":
      return new SimplePrinter(o, isHex);
    case "json":
      return new JsonPrinter(o);
    case "fields":
      return new FieldsPrinter(o);
    case "table":
      return new TablePrinter(o);
    case "protobuf":
      return new ProtobufPrinter(o);
  }
  throw new CtlExit(Exit.BadFeature, "unsupported output format");
}
