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
  type ContextValues,
  createContextValues,
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
  requestSignal: AbortSignal;
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
  readonly responseHeader: Headers;
  readonly responseTrailer: Headers;
  readonly values: ContextValues;
  readonly #deadline: number | undefined;
  readonly #requestSignal: AbortSignal;
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown = undefined;

  constructor(init: CallContextInit) {
    this.method = init.method;
    this.service = init.method.parent;
    this.protocolName = init.protocolName;
    this.requestMethod = init.requestMethod;
    this.url = init.url;
    this.requestHeader = init.requestHeader;
    this.responseHeader = new FieldHeaders(init.responseHeader);
    this.responseTrailer = new FieldHeaders(init.responseTrailer);
    this.values = init.contextValues ?? createContextValues();
    this.#deadline = init.timeoutMs === undefined ? undefined : Date.now() + init.timeoutMs;
    this.#requestSignal = init.requestSignal;
  }

  /** The remaining time of the request's deadline, if it has one. */
  readonly timeoutMs = (): number | undefined =>
    this.#deadline === undefined ? undefined : this.#deadline - Date.now();

  /**
   * Aborted when the client goes away, the deadline passes or the call fails: built on first
   * use, with the state it would have had from the start.
   */
  get signal(): AbortSignal {
    if (this.#controller !== undefined) return this.#controller.signal;
    const c = new AbortController();
    this.#controller = c;
    if (this.#aborted) {
      c.abort(this.#reason);
      return c.signal;
    }
    const req = this.#requestSignal;
    if (req.aborted) {
      this.abort(req.reason);
      return c.signal;
    }
    const left = this.timeoutMs();
    if (left !== undefined && left <= 0) {
      this.abort(timedOut());
      return c.signal;
    }
    const onRequestAbort = () => this.abort(req.reason);
    req.addEventListener("abort", onRequestAbort, { once: true });
    const timer = left === undefined ? undefined : setTimeout(() => this.abort(timedOut()), left);
    c.signal.addEventListener("abort", () => {
      if (timer !== undefined) clearTimeout(timer);
      req.removeEventListener("abort", onRequestAbort);
    }, { once: true });
    return c.signal;
  }

  /** Aborts the signal (now, or as it is built) with `reason`; later calls change nothing. */
  abort(reason?: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

function timedOut(): ConnectError {
  return new ConnectError("the operation timed out", Code.DeadlineExceeded);
}
