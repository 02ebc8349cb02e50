/**
 * etcd's two metrics flags for `concord serve`, kept beside the flag table (serve_flags.ts)
 * rather than in it: `--listen-metrics-urls` (more listeners serving only /metrics and
 * /health; https ones use the client TLS files, as etcd's) and `--metrics basic|extensive`.
 */
import { ConfigError } from "../server/config.ts";
import type { FlagDef } from "./serve_flags.ts";

/** The metrics flags, in etcd's words. */
export const METRICS_FLAGS: Record<string, FlagDef> = {
  "listen-metrics-urls": {
    kind: "urls",
    help:
      "List of URLs to listen on for the /metrics and /health endpoints. For https, the client URL TLS info is used.",
    apply: (c, v) => {
      const urls: URL[] = [];
      for (const s of v.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
        let u: URL;
        try {
          u = new URL(s);
        } catch {
          throw new ConfigError(`invalid url "${s}" for flag --listen-metrics-urls`);
        }
        if (u.protocol !== "http:" && u.protocol !== "https:") {
          throw new ConfigError(`--listen-metrics-urls ${s}: must use http or https`);
        }
        urls.push(u);
      }
      c.listenMetricsUrls = urls;
    },
  },
  "metrics": {
    kind: "string",
    help:
      "Set level of detail for exported metrics, specify 'extensive' to include server side grpc histogram metrics.",
    apply: (c, v) => {
      if (v !== "basic" && v !== "extensive") {
        throw new ConfigError(
          `invalid value "${v}" for flag --metrics: must be basic or extensive`,
        );
      }
      c.metrics = v;
    },
  },
};
