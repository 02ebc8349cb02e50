import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { Errors, GrpcCode } from "../../lib/base/errors.ts";
import {
  gatewayErrorBody,
  gatewayStreamErrorChunk,
  httpStatusFromCode,
  toConnectError,
} from "../../lib/api/errors.ts";
import { decodeGrpcMessage, encodeGrpcMessage } from "../../lib/api/grpc_message.ts";
import { authToken } from "../../lib/api/auth_token.ts";
import { limitBody } from "../../lib/api/limits.ts";
import { pathOf } from "../../lib/api/handler.ts";

Deno.test("every etcd error keeps its code and message through the mapping", () => {
  for (const [name, def] of Object.entries(Errors)) {
    const ce = toConnectError(def());
    assert.equal(ce.code as number, def.code, name);
    assert.equal(ce.rawMessage, def.message, name);
    assert.deepEqual(gatewayErrorBody(ce), {
      error: def.message,
      message: def.message,
      code: def.code,
    });
    assert.ok(httpStatusFromCode(def.code) >= 400, name);
  }
});

Deno.test("unknown errors map to Unknown with the message only; ConnectErrors pass through", () => {
  const ce = toConnectError(new Error("disk on fire"));
  assert.equal(ce.code, Code.Unknown);
  assert.equal(ce.rawMessage, "disk on fire");
  assert.equal(toConnectError("plain string").rawMessage, "plain string");
  const own = new ConnectError("nope", Code.Unimplemented);
  assert.equal(toConnectError(own), own);
  assert.equal(toConnectError(new DOMException("aborted", "AbortError")).code, Code.Canceled);
});

Deno.test("grpc-gateway statuses and stream error chunk", () => {
  assert.equal(httpStatusFromCode(GrpcCode.InvalidArgument), 400);
  assert.equal(httpStatusFromCode(GrpcCode.NotFound), 404);
  assert.equal(httpStatusFromCode(GrpcCode.FailedPrecondition), 412);
  assert.equal(httpStatusFromCode(GrpcCode.ResourceExhausted), 429);
  assert.equal(httpStatusFromCode(GrpcCode.Unauthenticated), 401);
  assert.equal(httpStatusFromCode(GrpcCode.Unavailable), 503);
  assert.deepEqual(gatewayStreamErrorChunk(toConnectError(Errors.compacted())), {
    error: {
      grpc_code: 11,
      http_code: 400,
      message: Errors.compacted.message,
      http_status: "Bad Request",
    },
  });
});

Deno.test("grpc-message uses the gRPC spec's percent-encoding", () => {
  assert.equal(
    encodeGrpcMessage("etcdserver: key is not provided"),
    "etcdserver: key is not provided",
  );
  assert.equal(encodeGrpcMessage("100% é\n"), "100%25 %C3%A9%0A");
  for (const s of ["etcdserver: x", "100% é\n", "a%b", ""]) {
    assert.equal(decodeGrpcMessage(encodeGrpcMessage(s)), s);
  }
  // What Connect sends (encodeURIComponent) decodes to the same text.
  assert.equal(decodeGrpcMessage(encodeURIComponent("etcdserver: a b")), "etcdserver: a b");
});

Deno.test("auth token from gRPC metadata or the gateway's Authorization header", () => {
  assert.equal(authToken(new Headers({ token: "abc.1" })), "abc.1");
  assert.equal(authToken(new Headers({ Authorization: "xyz.2" })), "xyz.2");
  assert.equal(authToken(new Headers({ token: "a", Authorization: "b" })), "a");
  assert.equal(authToken(new Headers()), undefined);
});

Deno.test("a body bound tripped in the HTTP layer maps to etcd's request-too-large", () => {
  const httpErr = new Error("request body larger than 2097152 bytes");
  httpErr.name = "BodyTooLargeError";
  const ce = toConnectError(httpErr);
  assert.equal(ce.code, Code.InvalidArgument);
  assert.equal(ce.rawMessage, Errors.requestTooLarge.message);
});

Deno.test("limitBody: etcd's error past the bound, and for the HTTP layer's own bound", async () => {
  async function* body(parts: number[], failAfter = Infinity) {
    let i = 0;
    for (const n of parts) {
      if (i++ >= failAfter) {
        const e = new Error("request message larger than 10 bytes");
        e.name = "BodyTooLargeError";
        throw e;
      }
      yield new Uint8Array(n);
    }
  }
  const read = async (it: AsyncIterable<Uint8Array>) => {
    let n = 0;
    for await (const c of it) n += c.length;
    return n;
  };
  assert.equal(await read(limitBody(body([4, 4, 2]), 10)), 10);
  await assert.rejects(read(limitBody(body([4, 4, 3]), 10)), (e: ConnectError) => {
    assert.equal(e.rawMessage, Errors.requestTooLarge.message);
    return true;
  });
  await assert.rejects(read(limitBody(body([4, 4], 1), 100)), (e: ConnectError) => {
    assert.equal(e.code, Code.InvalidArgument);
    assert.equal(e.rawMessage, Errors.requestTooLarge.message);
    return true;
  });
});

Deno.test("pathOf: request paths as URL would give them", () => {
  for (
    const url of [
      "http://127.0.0.1:2379/etcdserverpb.KV/Range",
      "http://h/v3/kv/range?x=1#f",
      "http://h",
      "http://h/",
      "/health",
      "/v3/kv/../kv/range",
      "http://h/v3/%6Bv/range",
      "https://[::1]:2379/v3/watch",
    ]
  ) {
    assert.equal(pathOf(url), new URL(url, "http://localhost").pathname, url);
  }
});
