/**
 * `concord serve`: parse etcd's flags (and ETCD_* variables), start the member, serve it on
 * every --listen-client-urls, and stop in order on SIGINT/SIGTERM: stop accepting, close the
 * HTTP servers, stop raft, commit and close the backend, close the WAL.
 */
import { ConfigError } from "../server/config.ts";
import { parseServeFlags, serveHelp } from "./serve_flags.ts";
import { startServer } from "../api/member_server.ts";
import { clientTlsWarnings } from "../api/client_tls.ts";
import { DataDirLockedError } from "../server/member.ts";
import { formatId } from "../server/member_id.ts";

/** Runs `concord serve …` until a signal; returns the exit code. */
export async function runServe(
  args: string[],
  env: Readonly<Record<string, string>> = Deno.env.toObject(),
): Promise<number> {
  let parsed;
  try {
    parsed = parseServeFlags(args, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`concord serve: ${err.message}`);
      return 2;
    }
    throw err;
  }
  if (parsed.help) {
    console.log(serveHelp());
    return 0;
  }
  for (const w of parsed.warnings) console.error(`concord serve: warning: ${w}`);
  const cfg = parsed.config;
  for (const w of clientTlsWarnings(cfg)) console.error(`concord serve: warning: ${w}`);
  let server;
  try {
    server = await startServer(cfg);
  } catch (err) {
    if (err instanceof DataDirLockedError || err instanceof ConfigError) {
      console.error(`concord serve: ${err.message}`);
      return 1;
    }
    if (err instanceof Deno.errors.AddrInUse) {
      console.error(`concord serve: cannot listen: ${err.message}`);
      return 1;
    }
    // a damaged WAL or page file, a full disk, …: say what and where, without a stack
    const cause = err instanceof Error && err.cause instanceof Error
      ? ` (${err.cause.message})`
      : "";
    console.error(
      `concord serve: cannot start member in ${cfg.dataDir}: ${
        err instanceof Error ? `${err.name}: ${err.message}` : String(err)
      }${cause}`,
    );
    return 1;
  }
  const { promise: stopped, resolve: stop } = Promise.withResolvers<string>();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const handlers = signals.map((sig) => {
    const h = () => stop(sig);
    Deno.addSignalListener(sig, h);
    return [sig, h] as const;
  });
  const member = server.member;
  const peers = member.membership.list().length;
  if (peers > 1) {
    console.error(
      `concord serve: ${member.describe()} (name ${cfg.name}) serving peers on ` +
        `${server.peerUrls.join(", ")}; waiting for a quorum of its ${peers} members`,
    );
  }
  // etcd's ReadyNotify: ready once a leader committed this member's published attributes
  // a member removed from the cluster stops and exits, as etcd does
  member.removed.then(() => stop("removal"));
  const first = await Promise.race([member.published.then(() => ""), stopped]);
  if (first === "") {
    console.log(
      `concord serve: ${member.describe()} (name ${cfg.name}, data dir ${cfg.dataDir}) ` +
        `ready to serve client requests on ${server.clientUrls.join(", ")}`,
    );
  }
  const sig = await stopped;
  for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
  console.error(
    sig === "removal"
      ? `concord serve: the member has been permanently removed from the cluster; ` +
        `shutting down member ${formatId(server.member.id)}`
      : `concord serve: received ${sig}, shutting down member ${formatId(server.member.id)}`,
  );
  await server.close();
  console.error("concord serve: stopped");
  return 0;
}
