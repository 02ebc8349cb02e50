/**
 * The lib/client Client a ctl command runs on, made from the global flags as etcdctl makes
 * its clientv3 config: --endpoints (host:port or URLs), --user[:password]/--password,
 * --cacert/--cert/--key (TLS when any is given or --insecure-transport=false). One client per
 * run, made on first use and closed when the command ends.
 */
import { Client } from "../client/client.ts";
import { grpcTransport } from "../client/grpc_transport.ts";
import type { H2ClientTls } from "../http/h2_client.ts";
import type { CtlContext } from "./ctl_command.ts";
import { CtlExit, Exit, exitWith } from "./ctl_exit.ts";

const clients = new WeakMap<CtlContext, Client[]>();
const defaults = new WeakMap<CtlContext, Client>();

/** The endpoints etcdctl would use (--endpoints, trimmed). */
export function endpointsOf(ctx: CtlContext): string[] {
  return ctx.flags.strings("endpoints").map((e) => e.trim());
}

/** Username and password from --user/--password, or undefined when no user is given. */
export function authOf(ctx: CtlContext): { username: string; password: string } | undefined {
  const user = ctx.flags.string("user");
  const password = ctx.flags.string("password");
  if (user === "") return undefined;
  if (password !== "") return { username: user, password };
  const colon = user.indexOf(":");
  if (colon < 0) {
    throw new CtlExit(
      Exit.Error,
      "reading a password from the terminal is not supported by concord ctl: give " +
        "--user name:password or --password",
    );
  }
  return { username: user.slice(0, colon), password: user.slice(colon + 1) };
}

function tlsWanted(ctx: CtlContext): boolean {
  for (const f of ["cert", "key", "cacert"]) {
    if (ctx.flags.string(f) === "" && ctx.flags.changed.has(f)) {
      throw new CtlExit(Exit.BadArgs, `empty string is passed to --${f} option`);
    }
  }
  if (ctx.flags.bool("insecure-skip-tls-verify")) {
    throw new CtlExit(
      Exit.BadFeature,
      "--insecure-skip-tls-verify is not supported by concord ctl: give the CA with --cacert",
    );
  }
  return ctx.flags.string("cert") !== "" || ctx.flags.string("key") !== "" ||
    ctx.flags.string("cacert") !== "" || !ctx.flags.bool("insecure-transport");
}

/** The PEM files --cacert, --cert and --key name, read (etcdctl's TLSInfo). */
function tlsFiles(ctx: CtlContext): H2ClientTls {
  const read = (flag: string): string | undefined => {
    const path = ctx.flags.string(flag);
    if (path === "") return undefined;
    try {
      return Deno.readTextFileSync(path);
    } catch (err) {
      throw new CtlExit(Exit.BadArgs, `open ${path}: ${(err as Error).message}`);
    }
  };
  const ca = read("cacert");
  return { caCerts: ca === undefined ? undefined : [ca], cert: read("cert"), key: read("key") };
}

/** An endpoint as a URL: a bare host:port gets http://, or https:// when TLS is on. */
export function endpointUrl(ep: string, tls: boolean): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(ep)) return ep;
  return `${tls ? "https" : "http"}://${ep}`;
}

/**
 * A client for `endpoints` (default: --endpoints) with the run's auth and TLS; `auth: false`
 * leaves the user out (etcdctl lists members without authenticating).
 */
export function newClient(
  ctx: CtlContext,
  endpoints = endpointsOf(ctx),
  opts: { auth?: boolean } = {},
): Client {
  void ctx.printer; // an unknown -w fails before anything is sent, as in etcdctl
  const tls = tlsWanted(ctx);
  const auth = opts.auth === false ? undefined : authOf(ctx);
  const c = new Client({
    endpoints: endpoints.map((e) => endpointUrl(e, tls)),
    transport: grpcTransport({
      tls: tls ? tlsFiles(ctx) : undefined,
      connectTimeoutMs: ctx.flags.duration("dial-timeout"),
    }),
    username: auth?.username,
    password: auth?.password,
  });
  const list = clients.get(ctx) ?? [];
  list.push(c);
  clients.set(ctx, list);
  return c;
}

/**
 * The run's client (made on first use). With a user, it authenticates at once, as
 * clientv3.New does: bad credentials fail the command with ExitBadConnection.
 */
export async function client(ctx: CtlContext): Promise<Client> {
  let c = defaults.get(ctx);
  if (c) return c;
  c = newClient(ctx);
  defaults.set(ctx, c);
  const auth = authOf(ctx);
  if (auth) {
    try {
      await c.auth.authenticate(auth.username, auth.password, {
        timeoutMs: ctx.flags.duration("dial-timeout"),
        signal: ctx.io.interrupt,
      });
    } catch (err) {
      exitWith(Exit.BadConnection, err);
    }
  }
  return c;
}

/** Closes every client the run made. */
export async function closeClient(ctx: CtlContext | undefined): Promise<void> {
  if (!ctx) return;
  const list = clients.get(ctx) ?? [];
  clients.delete(ctx);
  defaults.delete(ctx);
  for (const c of list) await c.close();
}
