/**
 * A one-member server in the bench script's own process, on a fresh data directory and a
 * port of its own: what the heap and allocation profilers (bench/alloc_profile.ts,
 * bench/inflight_heap.ts) measure, since V8's inspector sees only its own isolate.
 */
import { defaultConfig } from "../../lib/server/config.ts";
import { type ConcordServer, startServer } from "../../lib/api/member_server.ts";

/** The member, its client endpoint as host:port, and a close that also removes its data. */
export interface InProcessMember {
  server: ConcordServer;
  endpoint: string;
  close(): Promise<void>;
}

/** Starts the member named `name` (its logs dropped: they would land in the profile). */
export async function startInProcessMember(name: string): Promise<InProcessMember> {
  const dir = await Deno.makeTempDir({ prefix: `concord-${name}-` });
  const cfg = defaultConfig(name);
  cfg.dataDir = dir;
  cfg.listenClientUrls = [new URL("http://127.0.0.1:0")];
  const server = await startServer(cfg, { log: () => {} }).catch(async (e) => {
    await Deno.remove(dir, { recursive: true });
    throw e;
  });
  return {
    server,
    endpoint: server.clientUrls[0].replace(/^http:\/\//, ""),
    close: async () => {
      try {
        await server.close();
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  };
}
