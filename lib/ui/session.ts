/**
 * The console's connection to the member that served it: one Client on the page's own
 * origin (gRPC-web, which the CSP allows), anonymous until the user logs in. With auth on,
 * the client authenticates with the user's password and refreshes its token when the
 * server says it is invalid; when the server still asks for a user (no login, or the
 * password no longer works), the session asks the page for a login.
 */
import { Client, Errors } from "../client/browser.ts";

/** True for errors that mean "log in (again)". */
export function needsLogin(err: unknown): boolean {
  return Errors.userEmpty.is(err) || Errors.invalidAuthToken.is(err) ||
    Errors.authFailed.is(err);
}

/** Who the console talks to and as whom. */
export class Session {
  /** The member's client URL: the page's origin. */
  readonly endpoint: string;
  /** The logged-in user, or undefined (anonymous). */
  user?: string;
  #client: Client;
  readonly #listeners = new Set<() => void>();
  /** Called when a call failed for want of a (valid) login. */
  onLoginNeeded?: (err: unknown) => void;

  /** A session on `endpoint`, anonymous. */
  constructor(endpoint: string) {
    this.endpoint = endpoint;
    this.#client = new Client({ endpoints: [endpoint] });
  }

  /** The current client (a new one after each login or logout). */
  get client(): Client {
    return this.#client;
  }

  /** Calls `fn` on each login and logout (pages restart what they run). */
  onChange(fn: () => void): void {
    this.#listeners.add(fn);
  }

  /** Runs `fn` with the client; a failure asking for a login also opens the login form. */
  async run<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    try {
      return await fn(this.#client);
    } catch (err) {
      this.check(err);
      throw err;
    }
  }

  /** Opens the login form when `err` asks for one (for failures seen outside `run`). */
  check(err: unknown): void {
    if (needsLogin(err)) this.onLoginNeeded?.(err);
  }

  /** Logs in: the password is checked with Authenticate before the session switches user. */
  async login(user: string, password: string): Promise<void> {
    const c = new Client({ endpoints: [this.endpoint], username: user, password });
    try {
      await c.auth.authenticate(user, password);
    } catch (err) {
      await c.close();
      throw err;
    }
    this.#switch(c, user);
  }

  /** Back to anonymous. */
  logout(): void {
    this.#switch(new Client({ endpoints: [this.endpoint] }), undefined);
  }

  #switch(c: Client, user: string | undefined): void {
    const old = this.#client;
    this.#client = c;
    this.user = user;
    void old.close();
    for (const fn of this.#listeners) fn();
  }
}
