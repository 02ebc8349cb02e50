/**
 * etcd's simple tokens: `<16 random letters>.<raft index>`. The random prefix is chosen by
 * the member that receives Authenticate and travels through raft, so every member assigns the
 * same token. Tokens live in memory for a TTL (etcd: 300 s), refreshed each time one is used,
 * and are swept once a second.
 */
import type { Clock, Timer } from "../io/clock.ts";
import type { TokenInfo, TokenProvider } from "./token.ts";

const LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const PREFIX_LENGTH = 16;

/** A fresh random token prefix, from the system's cryptographic source. */
export function newSimpleTokenPrefix(): string {
  const random = crypto.getRandomValues(new Uint8Array(PREFIX_LENGTH));
  let out = "";
  // 256 is not a multiple of 52; rejection keeps every letter equally likely.
  for (let i = 0; out.length < PREFIX_LENGTH; i++) {
    if (i === random.length) {
      crypto.getRandomValues(random);
      i = 0;
    }
    if (random[i] < 208) out += LETTERS[random[i] % 52];
  }
  return out;
}

interface Entry {
  username: string;
  expiresAt: number;
}

/** Simple tokens held in this member's memory. */
export class SimpleTokenProvider implements TokenProvider {
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #tokens = new Map<string, Entry>();
  readonly #sweeper: Timer;

  constructor(clock: Clock, ttlSeconds = 300) {
    this.#clock = clock;
    this.#ttlMs = ttlSeconds * 1000;
    this.#sweeper = clock.every(1000, () => this.#sweep());
  }

  #sweep(): void {
    const now = this.#clock.now();
    for (const [token, entry] of this.#tokens) {
      if (entry.expiresAt <= now) this.#tokens.delete(token);
    }
  }

  assign(
    username: string,
    _authRevision: number,
    simplePrefix: string,
    index: number,
  ): Promise<string> {
    if (!/^[A-Za-z]{16}$/.test(simplePrefix)) {
      return Promise.reject(new Error("a simple token prefix is 16 letters"));
    }
    const token = `${simplePrefix}.${index}`;
    if (this.#tokens.has(token)) return Promise.reject(new Error(`token ${token} is already used`));
    this.#tokens.set(token, { username, expiresAt: this.#clock.now() + this.#ttlMs });
    return Promise.resolve(token);
  }

  info(token: string, currentAuthRevision: number): Promise<TokenInfo | undefined> {
    const entry = this.#tokens.get(token);
    if (!entry || entry.expiresAt <= this.#clock.now()) return Promise.resolve(undefined);
    entry.expiresAt = this.#clock.now() + this.#ttlMs;
    return Promise.resolve({ username: entry.username, revision: currentAuthRevision });
  }

  invalidateUser(username: string): void {
    for (const [token, entry] of this.#tokens) {
      if (entry.username === username) this.#tokens.delete(token);
    }
  }

  invalidateAll(): void {
    this.#tokens.clear();
  }

  close(): void {
    this.#sweeper.cancel();
  }
}
