import assert from "node:assert/strict";
import { Code, ConnectError, createContextKey, createContextValues } from "@connectrpc/connect";
import { CallContext } from "../../lib/api/call_context.ts";
import { KV } from "../../proto/gen/etcdserverpb/rpc_pb.ts";

/** A request whose signal counts its reads (lib/http builds one on the first). */
function request(signal: AbortSignal) {
  const r = {
    reads: 0,
    get signal() {
      r.reads++;
      return signal;
    },
  };
  return r;
}

function context(req: { readonly signal: AbortSignal }, timeoutMs?: number) {
  return new CallContext({
    method: KV.method.put,
    protocolName: "grpc",
    requestMethod: "POST",
    url: "http://127.0.0.1/etcdserverpb.KV/Put",
    timeoutMs,
    request: req,
    requestHeader: new Headers(),
    responseHeader: { "Content-Type": "application/grpc+proto" },
  });
}

Deno.test("CallContext: the request's signal is read only when the call's signal is", () => {
  const ac = new AbortController();
  const req = request(ac.signal);
  const ctx = context(req);
  assert.equal(ctx.timeoutMs(), undefined);
  ctx.values.get(createContextKey(0));
  assert.equal(req.reads, 0);
  const signal = ctx.signal;
  assert.equal(req.reads, 1);
  assert.equal(signal.aborted, false);
  ac.abort(new Error("client gone"));
  assert.equal(signal.aborted, true);
  assert.equal((signal.reason as Error).message, "client gone");
});

Deno.test("CallContext: aborted before its signal is built, the signal starts aborted", () => {
  const req = request(new AbortController().signal);
  const ctx = context(req);
  const why = new ConnectError("failed", Code.Internal);
  ctx.abort(why);
  ctx.abort(new Error("later"));
  assert.equal(ctx.signal.aborted, true);
  assert.equal(ctx.signal.reason, why);
  // a deadline already past aborts the signal as it is built
  const late = context(request(new AbortController().signal), -1);
  assert.equal(late.signal.aborted, true);
  assert.equal((late.signal.reason as ConnectError).code, Code.DeadlineExceeded);
});

Deno.test("CallContext: context values behave as Connect's; given ones are used", () => {
  const key = createContextKey<string>("default");
  const ctx = context(request(new AbortController().signal), 1000);
  const left = ctx.timeoutMs();
  assert.ok(left !== undefined && left > 0 && left <= 1000);
  const v = ctx.values;
  assert.equal(v.get(key), "default");
  assert.equal(v.set(key, "set"), v);
  assert.equal(v.get(key), "set");
  assert.equal(v.delete(key).get(key), "default");
  const other = createContextKey<number>(7);
  assert.equal(v.get(other), 7);
  const given = createContextValues().set(key, "given");
  const withValues = new CallContext({
    method: KV.method.put,
    protocolName: "grpc",
    requestMethod: "POST",
    url: "http://127.0.0.1/etcdserverpb.KV/Put",
    timeoutMs: undefined,
    request: request(new AbortController().signal),
    requestHeader: new Headers(),
    responseHeader: {},
    contextValues: given,
  });
  assert.equal(withValues.values, given);
  // response headers and trailers, made on first use from their init, then the same objects
  assert.equal(ctx.responseHeader.get("content-type"), "application/grpc+proto");
  ctx.responseHeader.set("x-a", "1");
  assert.equal(ctx.responseHeader.get("x-a"), "1");
  assert.equal([...ctx.responseTrailer].length, 0);
  ctx.responseTrailer.set("grpc-status", "0");
  assert.equal(ctx.responseTrailer.get("grpc-status"), "0");
  assert.equal(withValues.values.get(key), "given");
});
