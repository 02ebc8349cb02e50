/**
 * The handler context of a call on the direct paths (unary gRPC and Connect, streaming gRPC).
 *
 * Connect's `createHandlerContext` copies the request headers into a new `Headers`, makes two
 * more for the response, and links an AbortController to the request's signal and to a
 * deadline timer, for every call: about 10 KB of allocation and a timer per put, where the
 * whole rest of the call allocates about 24 KB. Most unary etcd calls (put, range, txn) never
 * look at the signal, so this context builds it only when asked: the request's headers are
 * shared, not copied; the response headers are `FieldHeaders`; and the signal, linked to the
 * request and the deadline exactly as Connect links them, exists from its first read on.
 */
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ContextKey,
  type ContextValues,
  type HandlerContext,
} from "@connectrpc/connect";
import { FieldHeaders } from "../http/field_headers.ts";

/** What a call context is made of (the subset of Connect's init the direct paths have). */
export interface CallContextInit {
  method: DescMethod;
  protocolName: string;
  requestMethod: string;
  url: string;
  /** From the request's timeout header; undefined when it has none. */
  timeoutMs: number | undefined;
  /**
   * The request whose signal the call's signal follows; its `signal` is read only when the
   * call's signal is built (lib/http builds a request's signal on first read too).
   */
  request: { readonly signal: AbortSignal };
  requestHeader: Headers;
  responseHeader: Record<string, string>;
  responseTrailer?: Record<string, string>;
  contextValues?: ContextValues;
}

/** See the module comment. */
export class CallContext implements HandlerContext {
  readonly method: DescMethod;
  readonly service: DescService;
  readonly protocolName: string;
  readonly requestMethod: string;
  readonly url: string;
  readonly requestHeader: Headers;
  /**
   * The response's headers and trailers and the call's abort state: what a direct path keeps
   * while it waits for the implementation, instead of this context (see CallAnswer).
   */
  readonly answer: CallAnswer;
  readonly #deadline: number | undefined;
  readonly #request: { readonly signal: AbortSignal };
  #values: ContextValues | undefined;

  constructor(init: CallContextInit) {
    this.method = init.method;
    this.service = init.method.parent;
    this.protocolName = init.protocolName;
    this.requestMethod = init.requestMethod;
    this.url = init.url;
    this.requestHeader = init.requestHeader;
    this.answer = new CallAnswer(init.responseHeader, init.responseTrailer);
    this.#values = init.contextValues;
    this.#deadline = init.timeoutMs === undefined ? undefined : Date.now() + init.timeoutMs;
    this.#request = init.request;
  }

  /** The response's headers, made on first use (see CallAnswer.header). */
  get responseHeader(): Headers {
    return this.answer.header;
  }

  /** The response's trailers, made on first use (see CallAnswer.trailer). */
  get responseTrailer(): Headers {
    return this.answer.trailer;
  }

  /** The request's context values (lib/http's PEER_CERTIFICATE), or empty ones. */
  get values(): ContextValues {
    return this.#values ??= new CallValues();
  }

  /** The remaining time of the request's deadline, if it has one. */
  timeoutMs(): number | undefined {
    return this.#deadline === undefined ? undefined : this.#deadline - Date.now();
  }

  /**
   * Aborted when the client goes away, the deadline passes or the call fails: built on first
   * use, with the state it would have had from the start.
   */
  get signal(): AbortSignal {
    const answer = this.answer;
    if (answer.controller !== undefined) return answer.controller.signal;
    const c = new AbortController();
    answer.controller = c;
    if (answer.aborted) {
      c.abort(answer.reason);
      return c.signal;
    }
    const req = this.#request.signal;
    if (req.aborted) {
      answer.abort(req.reason);
      return c.signal;
    }
    const left = this.timeoutMs();
    if (left !== undefined && left <= 0) {
      answer.abort(timedOut());
      return c.signal;
    }
    const onRequestAbort = () => answer.abort(req.reason);
    req.addEventListener("abort", onRequestAbort, { once: true });
    const timer = left === undefined ? undefined : setTimeout(() => answer.abort(timedOut()), left);
    c.signal.addEventListener("abort", () => {
      if (timer !== undefined) clearTimeout(timer);
      req.removeEventListener("abort", onRequestAbort);
    }, { once: true });
    return c.signal;
  }

  /** Aborts the signal (now, or as it is built) with `reason`; later calls change nothing. */
  abort(reason?: unknown): void {
    this.answer.abort(reason);
  }
}

/**
 * What a call's answer is made of: the response's headers and trailers, made on first use (a
 * unary call reads them when it answers, not while it waits for its commit), and the call's
 * abort state with the signal's controller once one is built. Apart from CallContext so that a
 * direct path waiting for the implementation's promise keeps these few fields and not the
 * context, which keeps the request, its headers, URL and values (docs/perf.md "Held per put,
 * seventh session"); whoever still needs the context (a handler that reads its signal or its
 * headers later) keeps it itself.
 */
export class CallAnswer {
  readonly #headerInit: Record<string, string>;
  readonly #trailerInit: Record<string, string> | undefined;
  #header: Headers | undefined = undefined;
  #trailer: Headers | undefined = undefined;
  /** The call signal's controller, once CallContext.signal built it. */
  controller: AbortController | undefined = undefined;
  aborted = false;
  reason: unknown = undefined;

  constructor(headerInit: Record<string, string>, trailerInit: Record<string, string> | undefined) {
    this.#headerInit = headerInit;
    this.#trailerInit = trailerInit;
  }

  /** The response's headers (made on first use). */
  get header(): Headers {
    return this.#header ??= new FieldHeaders(this.#headerInit);
  }

  /** The response's trailers (made on first use). */
  get trailer(): Headers {
    return this.#trailer ??= new FieldHeaders(this.#trailerInit);
  }

  /** Aborts the call's signal (now, or as it is built) with `reason`; later calls change nothing. */
  abort(reason?: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}

/**
 * Connect's context values (createContextValues: each value an own property keyed by its
 * key's symbol) with the methods on the prototype, where Connect makes three closures per call.
 */
class CallValues implements ContextValues {
  get<T>(key: ContextKey<T>): T {
    return key.id in this ? (this as unknown as Record<symbol, T>)[key.id] : key.defaultValue;
  }

  set<T>(key: ContextKey<T>, value: T): this {
    (this as unknown as Record<symbol, T>)[key.id] = value;
    return this;
  }

  delete(key: ContextKey<unknown>): this {
    delete (this as unknown as Record<symbol, unknown>)[key.id];
    return this;
  }
}

function timedOut(): ConnectError {
  return new ConnectError("the operation timed out", Code.DeadlineExceeded);
}
