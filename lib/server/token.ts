/**
 * Auth tokens: what `Authenticate` hands out and every later request presents. Two providers,
 * as etcd has: simple tokens (random, kept in the member's memory with a TTL refreshed on use)
 * and JWTs (signed, verifiable by any member or proxy without shared state).
 */

/** Who a valid token belongs to, and the auth revision it was issued at. */
export interface TokenInfo {
  username: string;
  /** The auth store revision when the token was issued (JWT) or 0 (simple). */
  revision: number;
}

/** Issues and checks tokens. */
export interface TokenProvider {
  /**
   * A token for `username`. `simplePrefix` and `index` come from the replicated Authenticate
   * request (so every member issues the same simple token); JWT ignores them.
   */
  assign(
    username: string,
    authRevision: number,
    simplePrefix: string,
    index: number,
  ): Promise<string>;
  /** The owner of a valid token, or undefined for an unknown, expired or forged one. */
  info(token: string): Promise<TokenInfo | undefined>;
  /** Forgets every token of a user (deleted user, changed password). */
  invalidateUser(username: string): void;
  /** Forgets every token (auth disabled). */
  invalidateAll(): void;
  /** Stops background work. */
  close(): void;
}
