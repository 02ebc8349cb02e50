/** A real etcd 3.4 with a gRPC transport to it, for the MVCC differential tests. */
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import type { Transport } from "@connectrpc/connect";
import { startEtcd as startEtcdProcess } from "../support/etcd.ts";

/** A running single-member etcd in a temp dir, with a gRPC transport to it. */
export interface EtcdPeer {
  transport: Transport;
  stop(): Promise<void>;
}

/** Starts etcd on free ports; call `stop()` to close the transport, kill etcd, remove its data. */
export async function startEtcd(): Promise<EtcdPeer> {
  const etcd = await startEtcdProcess("diff");
  const sessionManager = new Http2SessionManager(etcd.url);
  const transport = createGrpcTransport({ baseUrl: etcd.url, sessionManager });
  return {
    transport,
    async stop() {
      // Close our HTTP/2 session first: Deno's node:http2 client dies on a server GOAWAY.
      sessionManager.abort();
      await etcd.stop();
    },
  };
}
