/**
 * The entry point the layers above use: `openBackend(disk, path, options)` opens (creating when
 * missing) the page file at `path` under an exclusive lock and returns the batching `Backend`.
 */
import type { Disk } from "../io/disk.ts";
import type { Backend } from "./backend.ts";
import { type BackendOptions, BatchBackend } from "./batch_backend.ts";

export type { BackendOptions } from "./batch_backend.ts";
export { BatchBackend } from "./batch_backend.ts";
export { ClosedError, CorruptionError, FailedError, LockedError, UsageError } from "./errors.ts";

/**
 * Opens the backend over the page file at `path`. Throws LockedError when another handle or
 * process holds the file and CorruptionError (naming the page) when the file is damaged.
 */
export function openBackend(
  disk: Disk,
  path: string,
  options: BackendOptions = {},
): Promise<Backend & BatchBackend> {
  return BatchBackend.open(disk, path, options);
}
