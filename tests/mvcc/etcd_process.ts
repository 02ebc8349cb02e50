/** Runs a real etcd 3.4 (Debian's /usr/bin/etcd) for differential tests. */
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import type { Transport } from "@connectrpc/connect";

export const ETCD = "/usr/bin/etcd";

/** True when the etcd binary is installed. */
export function haveEtcd(): boolean {
  try {
    return Deno.statSync(ETCD).isFile;
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A running single-member etcd in a temp dir, with a gRPC transport to it. */
export interface EtcdPeer {
  transport: Transport;
  stop(): Promise<void>;
}

/** Starts etcd on free ports; call `stop()` to kill it and remove its data. */
export async function startEtcd(): Promise<EtcdPeer> {
  const dir = await Deno.makeTempDir({ prefix: "mvcc-etcd-" });
  const clientUrl = `http://127.0.0.1:${await freePort()}`;
  const peerUrl = `http://127.0.0.1:${await freePort()}`;
  const proc = new Deno.Command(ETCD, {
    args: [
      "--name=diff",
      `--data-dir=${dir}/etcd`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=diff=${peerUrl}`,
      "--logger=zap",
      "--log-level=error",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const sessionManager = new Http2SessionManager(clientUrl);
  const transport = createGrpcTransport({ baseUrl: clientUrl, sessionManager });
  return {
    transport,
    async stop() {
      sessionManager.abort();
      proc.kill("SIGTERM");
      await proc.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}
