/**
 * The WAL's failures, each a distinct class so that the server can tell "refuse to start,
 * the log is damaged" from "another process owns this directory" without parsing messages.
 */

/** The base of every WAL failure. */
export class WalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WalError";
  }
}

/**
 * A record that cannot be a torn tail failed its checks: acknowledged data may be damaged,
 * so the WAL refuses to open rather than truncate it. Names the file and byte offset.
 */
export class WalCorruptError extends WalError {
  readonly file: string;
  readonly offset: number;
  readonly reason: string;
  constructor(file: string, offset: number, reason: string) {
    super(`wal: corrupt record in ${file} at offset ${offset}: ${reason}`);
    this.name = "WalCorruptError";
    this.file = file;
    this.offset = offset;
    this.reason = reason;
  }
}

/** Another open WAL (in this or another process) holds the directory lock. */
export class WalLockedError extends WalError {
  constructor(dir: string, lockFile: string) {
    super(`wal: ${dir} is in use by another process (lock file ${lockFile} is held)`);
    this.name = "WalLockedError";
  }
}

/** `create` found an existing WAL, or `open` found none. */
export class WalExistsError extends WalError {
  constructor(dir: string) {
    super(`wal: a WAL already exists in ${dir}`);
    this.name = "WalExistsError";
  }
}

/** `open` found no WAL segments. */
export class WalNotFoundError extends WalError {
  constructor(dir: string, detail = "no WAL segment files") {
    super(`wal: ${detail} in ${dir}`);
    this.name = "WalNotFoundError";
  }
}

/** The snapshot `open` was asked to start at is not recorded in the WAL (or its term differs). */
export class WalSnapshotError extends WalError {
  constructor(message: string) {
    super(`wal: ${message}`);
    this.name = "WalSnapshotError";
  }
}
