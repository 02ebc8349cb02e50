/**
 * The small seams between the listener and the protocol connections: the byte stream a
 * connection reads and writes (a `Deno.Conn` or `Deno.TlsConn`), and what the server needs from
 * every live connection to time it out and shut it down.
 */

/** A duplex byte stream; `Deno.Conn` satisfies it. */
export interface ByteConn {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
}

/** A live HTTP/1.1 or HTTP/2 connection as the server sees it. */
export interface ServerConnection {
  /** Serve until closed; never rejects. */
  run(): Promise<void>;
  /** Graceful: stop taking requests, finish in-flight ones, then close. */
  shutdown(): void;
  /** Close now, aborting in-flight requests. */
  destroy(): void;
  /** Idle and slow-peer timeouts, called about once a second with `Date.now()`. */
  tick(now: number): void;
}

/**
 * An HTTP/1.1 request that asked to continue as HTTP/2 (`Upgrade: h2c`, RFC 7540 3.2) and got
 * `101 Switching Protocols`: the HTTP/2 connection answers it as stream 1.
 */
export interface H2cUpgrade {
  /** Octets already read past the request (the client's preface onwards). */
  initial: Uint8Array;
  /** The decoded HTTP2-Settings payload: the client's SETTINGS. */
  settings: Uint8Array;
  method: string;
  path: string;
  authority: string;
  header: Headers;
}
