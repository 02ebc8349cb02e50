/**
 * The machinery under every call: a set of member endpoints picked round-robin, failover to
 * the next member when one is unavailable, retries only where they cannot apply a write
 * twice, per-call deadlines and cancellation, and the auth token (fetched with the user's
 * password, refreshed when the server says it is invalid or stale). Modelled on clientv3's
 * balancer and retry interceptor (client/v3/retry.go).
 */
import { type Client, createClient } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import { Auth } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { type EtcdError, GrpcCode } from "../base/errors.ts";
import {
  canceled,
  deadlineExceeded,
  isUnavailable,
  needsNewToken,
  toEtcdError,
  writeNotApplied,
} from "./errors.ts";
import { sleep } from "./sleep.ts";
import type { EndpointTransport, TransportFactory } from "./transport.ts";

/** Per-call options every method takes. */
export interface CallOptions {
  /** Fail with DeadlineExceeded after this long, retries included (default: the client's). */
  timeoutMs?: number;
  /** Aborting fails the call with Canceled (and cancels it on the server). */
  signal?: AbortSignal;
}

/**
 * Options of calls that may be addressed to one member: those that concern a member
 * (status, hashKV, defragment, …) and KV calls (etcdctl's `endpoint health` reads through
 * each member in turn).
 */
export interface MemberCallOptions extends CallOptions {
  /** The member to ask (one of the client's endpoints), without failover; default: any. */
  endpoint?: string;
}

/**
 * What may be retried on another member: `read` on any Unavailable; `write` only when the
 * failure proves the write was not applied; `none` never (a lock wait, a snapshot stream).
 */
export type RetryPolicy = "read" | "write" | "none";

/** One member the client talks to. */
export interface Endpoint {
  readonly url: string;
  readonly transport: EndpointTransport;
  /** Until this time (ms since epoch) the member is skipped when another is up. */
  downUntil: number;
  readonly clients: Map<DescService, unknown>;
}

/** The options the connection is built from (the Client's, minus the namespaces'). */
export interface ConnectionOptions {
  endpoints: string[];
  transport: TransportFactory;
  username?: string;
  password?: string;
  /** Deadline for calls that give none; undefined: no deadline. */
  defaultTimeoutMs?: number;
  /** How long a failed member is passed over (default 3000 ms). */
  downMs?: number;
}

const MAX_ATTEMPTS = 20;

/** The headers and signal one attempt runs with. */
export interface Attempt {
  signal: AbortSignal;
  headers: Record<string, string>;
  /** The remaining time, for the server's grpc-timeout. */
  timeoutMs?: number;
}

/** Endpoints, failover, retries and auth; shared by every namespace of a Client. */
export class Connection {
  #endpoints: Endpoint[] = [];
  #next = 0;
  readonly #factory: TransportFactory;
  readonly #opts: ConnectionOptions;
  readonly #closing = new AbortController();
  #token?: Promise<string>;
  #tokenValue?: string;
  /** How many tokens the client has fetched (a refresh adds one). */
  tokensFetched = 0;

  constructor(opts: ConnectionOptions) {
    if (opts.endpoints.length === 0) throw new TypeError("at least one endpoint is required");
    if ((opts.username === undefined) !== (opts.password === undefined)) {
      throw new TypeError("username and password go together");
    }
    this.#opts = opts;
    this.#factory = opts.transport;
    this.setEndpoints(opts.endpoints);
  }

  /** The endpoint URLs in use. */
  get endpoints(): string[] {
    return this.#endpoints.map((e) => e.url);
  }

  /** Aborts when the client closes. */
  get closing(): AbortSignal {
    return this.#closing.signal;
  }

  /**
   * Replaces the endpoint set, keeping the connections of URLs still in it and closing the
   * others (calls in flight on them fail over).
   */
  setEndpoints(urls: string[]): void {
    if (urls.length === 0) throw new TypeError("at least one endpoint is required");
    const keep = new Map(this.#endpoints.map((e) => [e.url, e]));
    const next: Endpoint[] = [];
    for (const raw of urls) {
      const url = normalizeUrl(raw);
      if (next.some((e) => e.url === url)) continue;
      const old = keep.get(url);
      keep.delete(url);
      next.push(old ?? { url, transport: this.#factory(url), downUntil: 0, clients: new Map() });
    }
    for (const gone of keep.values()) void gone.transport.close();
    this.#endpoints = next;
  }

  /** The next endpoint round-robin, passing over members that failed lately. */
  pick(): Endpoint {
    const n = this.#endpoints.length;
    const now = Date.now();
    for (let i = 0; i < n; i++) {
      const e = this.#endpoints[(this.#next + i) % n];
      if (e.downUntil <= now) {
        this.#next = (this.#next + i + 1) % n;
        return e;
      }
    }
    // every member failed lately: the one that failed longest ago
    let best = this.#endpoints[0];
    for (const e of this.#endpoints) if (e.downUntil < best.downUntil) best = e;
    return best;
  }

  /** The endpoint with this URL (one of the client's endpoints). */
  at(url: string): Endpoint {
    const u = normalizeUrl(url);
    const ep = this.#endpoints.find((e) => e.url === u);
    if (!ep) throw new TypeError(`${url} is not one of the client's endpoints`);
    return ep;
  }

  /** Passes over `ep` for a while (it failed or stopped answering). */
  markDown(ep: Endpoint): void {
    ep.downUntil = Date.now() + (this.#opts.downMs ?? 3000);
  }

  /** A Connect client of `service` on `ep` (cached). */
  client<S extends DescService>(ep: Endpoint, service: S): Client<S> {
    let c = ep.clients.get(service) as Client<S> | undefined;
    if (!c) {
      c = createClient(service, ep.transport.transport);
      ep.clients.set(service, c);
    }
    return c;
  }

  /**
   * Runs `fn` against one member after another until it succeeds, fails in a way retrying
   * cannot fix, or the deadline passes. `fn` gets the endpoint and the attempt's signal,
   * headers (the auth token) and remaining time.
   */
  async call<T>(
    policy: RetryPolicy,
    opts: MemberCallOptions | undefined,
    fn: (ep: Endpoint, a: Attempt) => Promise<T>,
  ): Promise<T> {
    const scope = this.scope(opts);
    const pinned = opts?.endpoint === undefined ? undefined : this.at(opts.endpoint);
    // the deadline may pass while retrying: the error then carries the last failure
    let last: EtcdError | undefined;
    try {
      let tokenRefreshed = false;
      for (let attempt = 1;; attempt++) {
        scope.check(last);
        const ep = pinned ?? this.pick();
        const headers = await scope.guard(this.headers());
        try {
          return await fn(ep, { signal: scope.signal, headers, timeoutMs: scope.remaining() });
        } catch (raw) {
          scope.check(last ?? raw);
          const err = toEtcdError(raw);
          if (needsNewToken(err) && this.#opts.username !== undefined && !tokenRefreshed) {
            tokenRefreshed = true;
            this.dropToken(headers.token);
            continue;
          }
          if (err.code === GrpcCode.DeadlineExceeded) {
            // the member did not answer in time: try others first next time
            if (policy !== "none") this.markDown(ep);
            throw deadlineExceeded(last ?? raw);
          }
          if (!isUnavailable(err)) throw err;
          this.markDown(ep);
          const retry = policy === "read" || (policy === "write" && writeNotApplied(err));
          if (!retry || pinned || attempt >= MAX_ATTEMPTS) throw err;
          last = err;
          await scope.guard(backoff(attempt, scope.signal)).catch(() => scope.check(last));
        }
      }
    } finally {
      scope.dispose();
    }
  }

  /**
   * The headers of every call: `hasleader` (etcd then refuses the call at once with "no
   * leader" when the member has lost its leader, instead of letting it wait: the client
   * moves to another member) and the auth token when the client has credentials.
   */
  async headers(): Promise<Record<string, string>> {
    if (this.#opts.username === undefined) return { hasleader: "true" };
    if (!this.#token) {
      this.#tokenValue = undefined;
      // shared by every call waiting for it: only closing the client stops it
      const p = this.#authenticate(this.#closing.signal).then((t) => {
        if (this.#token === p) this.#tokenValue = t;
        return t;
      });
      this.#token = p;
      p.catch(() => {
        if (this.#token === p) this.#token = undefined;
      });
    }
    return { hasleader: "true", token: await this.#token };
  }

  /**
   * Forgets the token `used` so the next call authenticates again, unless a newer token
   * has been fetched or is being fetched meanwhile (calls that failed at once with the same
   * stale token refresh it once).
   */
  dropToken(used: string | undefined): void {
    if (used !== undefined && this.#tokenValue === used) {
      this.#token = undefined;
      this.#tokenValue = undefined;
    }
  }

  async #authenticate(signal?: AbortSignal): Promise<string> {
    const name = this.#opts.username!, password = this.#opts.password!;
    let last: EtcdError | undefined;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const ep = this.pick();
      try {
        const r = await this.client(ep, Auth).authenticate({ name, password }, { signal });
        this.tokensFetched++;
        return r.token;
      } catch (raw) {
        if (signal?.aborted) throw raw;
        last = toEtcdError(raw);
        if (!isUnavailable(last)) throw last;
        this.markDown(ep);
        await backoff(attempt, signal);
      }
    }
    throw last!;
  }

  /**
   * A call's deadline and cancellation as one signal: the caller's signal, the deadline and
   * the client closing. `check` turns an abort into Canceled or DeadlineExceeded.
   */
  scope(opts: CallOptions | undefined): CallScope {
    return new CallScope(opts?.timeoutMs ?? this.#opts.defaultTimeoutMs, [
      this.#closing.signal,
      ...(opts?.signal ? [opts.signal] : []),
    ]);
  }

  /** Aborts every call and stream, then closes every connection. */
  async close(): Promise<void> {
    this.#closing.abort(canceled());
    await Promise.all(this.#endpoints.map((e) => e.transport.close()));
  }
}

/** One call's deadline and cancellation. */
export class CallScope {
  readonly #ctrl = new AbortController();
  readonly #deadline?: number;
  readonly #timer?: ReturnType<typeof setTimeout>;
  readonly #unlink: (() => void)[] = [];

  constructor(timeoutMs: number | undefined, signals: AbortSignal[]) {
    for (const s of signals) {
      if (s.aborted) this.#ctrl.abort(canceled(s.reason));
      const on = () => this.#ctrl.abort(canceled(s.reason));
      s.addEventListener("abort", on, { once: true });
      this.#unlink.push(() => s.removeEventListener("abort", on));
    }
    if (timeoutMs !== undefined && timeoutMs > 0) {
      // whole milliseconds: gRPC's grpc-timeout is an integer, and etcd resets a stream
      // whose timeout is not (PROTOCOL_ERROR)
      timeoutMs = Math.ceil(timeoutMs);
      this.#deadline = Date.now() + timeoutMs;
      this.#timer = setTimeout(() => this.#ctrl.abort(deadlineExceeded()), timeoutMs);
    }
  }

  get signal(): AbortSignal {
    return this.#ctrl.signal;
  }

  /** Milliseconds left before the deadline (undefined: none). */
  remaining(): number | undefined {
    return this.#deadline === undefined ? undefined : Math.max(1, this.#deadline - Date.now());
  }

  /** Throws the scope's Canceled / DeadlineExceeded once it is aborted. */
  check(cause?: unknown): void {
    if (!this.#ctrl.signal.aborted) return;
    const reason = this.#ctrl.signal.reason as EtcdError;
    if (cause !== undefined && reason.cause === undefined) reason.cause = cause;
    throw reason;
  }

  /** Awaits `p`, or fails as soon as the scope is aborted. */
  guard<T>(p: Promise<T>): Promise<T> {
    const s = this.#ctrl.signal;
    if (s.aborted) return Promise.reject(s.reason);
    return new Promise<T>((resolve, reject) => {
      const on = () => reject(s.reason);
      s.addEventListener("abort", on, { once: true });
      p.then(
        (v) => {
          s.removeEventListener("abort", on);
          resolve(v);
        },
        (e) => {
          s.removeEventListener("abort", on);
          reject(s.aborted ? s.reason : e);
        },
      );
    });
  }

  dispose(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    for (const u of this.#unlink) u();
  }
}

/** Waits 25 ms doubling per attempt up to 1 s (clientv3's backoff, without jitter). */
function backoff(attempt: number, signal?: AbortSignal): Promise<void> {
  return sleep(Math.min(25 * 2 ** (attempt - 1), 1000), signal);
}

/** `127.0.0.1:2379` → `http://127.0.0.1:2379`; trailing slashes dropped. */
function normalizeUrl(raw: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(raw) ? raw : `http://${raw}`;
  const u = new URL(withScheme);
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new TypeError(`endpoint ${raw}: only http and https are supported`);
  }
  return `${u.protocol}//${u.host}`;
}
