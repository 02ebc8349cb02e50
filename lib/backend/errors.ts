/**
 * The page file's errors. Corruption names the page so an operator can find it; every other
 * misuse gets its own class so callers can tell a full disk from a bug from a locked file.
 */

/** The file's bytes are not a valid page file: names the page and what is wrong with it. */
export class CorruptionError extends Error {
  /** The page at fault (-1 when the fault is the file as a whole). */
  readonly page: number;
  constructor(page: number, detail: string) {
    super(
      page >= 0 ? `page file corrupt: page ${page}: ${detail}` : `page file corrupt: ${detail}`,
    );
    this.name = "CorruptionError";
    this.page = page;
  }
}

/** Another handle (this or another process) holds the file's lock. */
export class LockedError extends Error {
  constructor(path: string) {
    super(`page file ${path} is locked by another process or handle`);
    this.name = "LockedError";
  }
}

/** An operation on a closed database, a finished transaction, or a failed backend. */
export class ClosedError extends Error {
  constructor(what: string, options?: ErrorOptions) {
    super(what, options);
    this.name = "ClosedError";
  }
}

/**
 * A commit failed (for example, the disk is full): the file still holds the previous committed
 * state, and this handle refuses further work; reopen the file to continue.
 */
export class FailedError extends Error {
  constructor(message: string, cause: unknown) {
    super(`${message}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "FailedError";
  }
}

/** Bad arguments: empty or oversized key, missing bucket, a bucket where a value was expected. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
