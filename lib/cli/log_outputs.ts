/**
 * Where `concord serve` writes its log lines (etcd's --log-outputs): "default" and "stderr"
 * are standard error (etcd's "default" goes to journald under systemd; Concord's to stderr),
 * "stdout" is standard output, anything else is a file path, opened for appending and
 * created if missing. Lines are written whole and synchronously, in order, to every output.
 */
import { ConfigError } from "../server/config.ts";
import { createLogger, type Logger, type LogThreshold, writeAllSync } from "../base/log.ts";

/** The process logger and what to close when the process ends. */
export interface LogOutputs {
  logger: Logger;
  close(): void;
}

/** Opens `outputs` and returns a logger at `level` writing to all of them. */
export function openLogOutputs(outputs: readonly string[], level: LogThreshold): LogOutputs {
  const writers: { writeSync(p: Uint8Array): number }[] = [];
  const files: Deno.FsFile[] = [];
  for (const out of new Set(outputs)) {
    if (out === "default" || out === "stderr") writers.push(Deno.stderr);
    else if (out === "stdout") writers.push(Deno.stdout);
    else {
      try {
        const f = Deno.openSync(out, { append: true, create: true });
        files.push(f);
        writers.push(f);
      } catch (err) {
        for (const f of files) f.close();
        throw new ConfigError(`cannot open log output ${out}: ${(err as Error).message}`);
      }
    }
  }
  const enc = new TextEncoder();
  const logger = createLogger({
    level,
    write(line) {
      const bytes = enc.encode(line + "\n");
      for (const w of writers) writeAllSync(w, bytes);
    },
  });
  return {
    logger,
    close() {
      for (const f of files.splice(0)) f.close();
    },
  };
}
