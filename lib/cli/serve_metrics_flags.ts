/**
 * etcd's two metrics flags for `concord serve`, kept beside the flag table
 * (serve_flag_table.ts): `--listen-metrics-urls` (more listeners serving only /metrics and
 * /health; https ones use the client TLS files, as etcd's) and `--metrics basic|extensive`.
 */
import { ConfigError } from "../server/config.ts";
import type { FlagDef } from "./serve_flag_types.ts";

/** The metrics flags, in etcd's words. */
export const METRICS_FLAGS: Record<string, FlagDef> = {
  "listen-metrics-urls": {
    kind: "urls",
    group: "Profiling and Monitoring",
    default: "",
    help:
      "List of URLs to listen on for the /metrics and /health endpoints. For https, the client URL TLS info is used.",
    apply: (s, v) => {
      const urls: URL[] = [];
      for (const text of v.split(",").map((t) => t.trim()).filter((t) => t !== "")) {
        let u: URL;
        try {
          u = new URL(text);
        } catch {
          throw new ConfigError(`invalid url "${text}" for flag --listen-metrics-urls`);
        }
        if (u.protocol !== "http:" && u.protocol !== "https:") {
          throw new ConfigError(`--listen-metrics-urls ${text}: must use http or https`);
        }
        urls.push(u);
      }
      s.config.listenMetricsUrls = urls;
    },
  },
  "metrics": {
    kind: "string",
    group: "Profiling and Monitoring",
    default: "basic",
    help:
      "Set level of detail for exported metrics, specify 'extensive' to include server side grpc histogram metrics.",
    apply: (s, v) => {
      if (v !== "basic" && v !== "extensive") {
        throw new ConfigError(
          `invalid value "${v}" for flag --metrics: must be basic or extensive`,
        );
      }
      s.config.metrics = v;
    },
  },
};
