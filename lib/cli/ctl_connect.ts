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
import { Errors } from "../base/errors.ts";

const clients = new WeakMap<CtlContext, Client[]>();
const defaults = new WeakMap<CtlContext, Client>();
/** Runs whose server said auth is off: clientv3 then carries on without a token. */
const authNotEnabled = new WeakSet<CtlContext>();

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
    if (ctx.typedPassword === undefined) {
      throw new Error("ctl: the password of --user was not asked for before connecting");
    }
    return { username: user, password: ctx.typedPassword };
  }
  return { username: user.slice(0, colon), password: user.slice(colon + 1) };
}

/** TLS settings: the files --cacert/--cert/--key name, and --insecure-transport. */
export interface TlsFlags {
  cert: string;
  key: string;
  cacert: string;
  insecure: boolean;
}

function tlsFlagsOf(ctx: CtlContext): TlsFlags {
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
  return {
    cert: ctx.flags.string("cert"),
    key: ctx.flags.string("key"),
    cacert: ctx.flags.string("cacert"),
    insecure: ctx.flags.bool("insecure-transport"),
  };
}

/** TLS is on when any file is given or transport security is asked for. */
function tlsWanted(t: TlsFlags): boolean {
  return t.cert !== "" || t.key !== "" || t.cacert !== "" || !t.insecure;
}

/** The PEM files named, read (etcdctl's TLSInfo). */
function tlsFiles(t: TlsFlags): H2ClientTls {
  const read = (path: string): string | undefined => {
    if (path === "") return undefined;
    try {
      return Deno.readTextFileSync(path);
    } catch (err) {
      throw new CtlExit(Exit.BadArgs, `open ${path}: ${(err as Error).message}`);
    }
  };
  const ca = read(t.cacert);
  return { caCerts: ca === undefined ? undefined : [ca], cert: read(t.cert), key: read(t.key) };
}

/** An endpoint as a URL: a bare host:port gets http://, or https:// when TLS is on. */
export function endpointUrl(ep: string, tls: boolean): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(ep)) return ep;
  return `${tls ? "https" : "http"}://${ep}`;
}

/**
 * A client for `endpoints` (default: --endpoints) with the run's auth and TLS; `auth: false`
 * leaves the user out (etcdctl lists members without authenticating); `tls` replaces the
 * global TLS flags (make-mirror's destination has its own).
 */
export function newClient(
  ctx: CtlContext,
  endpoints = endpointsOf(ctx),
  opts: { auth?: boolean; tls?: TlsFlags } = {},
): Client {
  void ctx.printer; // an unknown -w fails before anything is sent, as in etcdctl
  const tlsFlags = opts.tls ?? tlsFlagsOf(ctx);
  const tls = tlsWanted(tlsFlags);
  const auth = opts.auth === false || authNotEnabled.has(ctx) ? undefined : authOf(ctx);
  const c = new Client({
    endpoints: endpoints.map((e) => endpointUrl(e, tls)),
    transport: grpcTransport({
      tls: tls ? tlsFiles(tlsFlags) : undefined,
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
 * A client for `endpoints` that has authenticated when a user is given, as clientv3.New
 * does: bad credentials fail the command with ExitBadConnection, and a server without auth
 * is then used without a token (clientv3 tolerates "authentication is not enabled").
 */
export async function connect(ctx: CtlContext, endpoints = endpointsOf(ctx)): Promise<Client> {
  const c = newClient(ctx, endpoints);
  const auth = authNotEnabled.has(ctx) ? undefined : authOf(ctx);
  if (!auth) return c;
  try {
    await c.auth.authenticate(auth.username, auth.password, {
      timeoutMs: ctx.flags.duration("dial-timeout"),
      signal: ctx.io.interrupt,
    });
  } catch (err) {
    if (!Errors.authNotEnabled.is(err)) exitWith(Exit.BadConnection, err);
    authNotEnabled.add(ctx);
    return newClient(ctx, endpoints);
  }
  return c;
}

/** The run's client on --endpoints (made, and authenticated, on first use). */
export async function client(ctx: CtlContext): Promise<Client> {
  let c = defaults.get(ctx);
  if (!c) {
    c = await connect(ctx);
    defaults.set(ctx, c);
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
