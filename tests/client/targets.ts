/**
 * The servers the client tests run against, side by side in the same test: a Concord member
 * in-process and Debian's etcd 3.4, each with a Client on it. etcd speaks only gRPC, so it
 * is reached through the gRPC transport; Concord through both.
 */
import { Client, type ClientOptions } from "../../lib/client/mod.ts";
import { webTransport } from "../../lib/client/transport.ts";
import { grpcTransport } from "../../lib/client/grpc_transport.ts";
import type { TransportFactory } from "../../lib/client/transport.ts";
import { startTestServer } from "../server/harness.ts";
import { freePort, startEtcd } from "../support/etcd.ts";

/** A server under test and how to make clients of it. */
export interface Target {
  /** "concord/web", "concord/grpc" or "etcd/grpc". */
  readonly name: string;
  readonly url: string;
  /** A new client on the target (closed by `stop`). */
  client(opts?: Partial<ClientOptions>): Client;
  stop(): Promise<void>;
}

function target(
  name: string,
  url: string,
  transport: TransportFactory,
  stopServer: () => Promise<void>,
): Target {
  const clients: Client[] = [];
  return {
    name,
    url,
    client(opts) {
      const c = new Client({ endpoints: [url], transport, ...opts });
      clients.push(c);
      return c;
    },
    async stop() {
      await Promise.all(clients.map((c) => c.close()));
      await stopServer();
    },
  };
}

/**
 * A Concord member with fast raft timing (so 1 s lease TTLs hold), listening on a port
 * chosen first so it advertises the URL it serves (the member list names it, as etcd's).
 */
async function startConcordMember() {
  // the targets start side by side, so a port free a moment ago can be taken before the member
  // binds it (by etcd or the other member): only that case is tried again, on a fresh port
  for (let attempt = 1;; attempt++) {
    const url = new URL(`http://127.0.0.1:${freePort()}`);
    try {
      return await startTestServer((c) => {
        c.heartbeatIntervalMs = 10;
        c.electionTimeoutMs = 100;
        c.listenClientUrls = [url];
        c.advertiseClientUrls = [url];
      });
    } catch (err) {
      if (!(err instanceof Deno.errors.AddrInUse) || attempt >= 3) throw err;
    }
  }
}

/** A Concord member reached over gRPC-web. */
export async function startConcord(): Promise<Target> {
  const s = await startConcordMember();
  return target("concord/web", s.url, webTransport, () => s.close());
}

/** A Concord member reached over gRPC. */
export async function startConcordGrpc(): Promise<Target> {
  const s = await startConcordMember();
  return target("concord/grpc", s.url, grpcTransportForTests(), () => s.close());
}

/** etcd 3.4, reached over gRPC. */
export async function startEtcdTarget(): Promise<Target> {
  const e = await startEtcd();
  return target("etcd/grpc", e.url, grpcTransportForTests(), () => e.stop());
}

/** The gRPC transport with quick keep-alives, as the failover tests need. */
export function grpcTransportForTests(): TransportFactory {
  return grpcTransport({ keepAliveIntervalMs: 1000, keepAliveTimeoutMs: 1000 });
}

/**
 * Runs `body` against every target at once (a fresh server each), so one test shows the
 * client behaves the same on Concord and on etcd. Failures name the target.
 */
export async function onEveryTarget(body: (t: Target) => Promise<void>): Promise<void> {
  const results = await Promise.allSettled(
    [startConcordGrpc, startConcord, startEtcdTarget].map(async (start) => {
      const t = await start();
      try {
        await body(t);
      } catch (err) {
        if (err instanceof Error) err.message = `[${t.name}] ${err.message}`;
        throw err;
      } finally {
        await t.stop();
      }
    }),
  );
  for (const r of results) if (r.status === "rejected") throw r.reason;
}
