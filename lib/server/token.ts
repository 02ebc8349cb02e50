/**
 * Auth tokens: what `Authenticate` hands out and every later request presents. Two providers,
 * as etcd has: simple tokens (random, kept in the member's memory with a TTL refreshed on use)
 * and JWTs (signed, verifiable by any member or proxy without shared state).
 */

/** Who a valid token belongs to, and the auth revision it was issued at. */
export interface TokenInfo {
  username: string;
  /**
   * The auth revision the token stands for: the one it was issued at (JWT), or the store's
   * current one (simple tokens, which the member can revoke itself), as etcd does.
   */
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
  /**
   * The owner of a valid token, or undefined for an unknown, expired or forged one.
   * `currentAuthRevision` is the auth store's revision now (simple tokens report it).
   */
  info(token: string, currentAuthRevision: number): Promise<TokenInfo | undefined>;
  /** Forgets every token of a user (deleted user, changed password). */
  invalidateUser(username: string): void;
  /** Forgets every token (auth disabled). */
  invalidateAll(): void;
  /** Stops background work. */
  close(): void;
}
