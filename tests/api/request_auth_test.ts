/**
 * Token intake on an in-process member (no network): `authInfo` and `checkAdmin` resolve a
 * token whether or not auth is enabled, as etcd's AuthInfoFromCtx does, so a token the member
 * cannot resolve is etcd's invalid auth token even with auth off; and a watch the caller may
 * not make is refused with etcd's cancel reason (the gRPC status text) and watch id -1.
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { createHandlerContext, type HandlerContext } from "@connectrpc/connect";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { Auth } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { Errors } from "../../lib/base/errors.ts";
import { callerOf } from "../../lib/api/request_auth.ts";
import { authService } from "../../lib/api/auth_service.ts";
import { AuthServer } from "../../lib/server/auth_server.ts";
import { EtcdServer } from "../../lib/server/etcd_server.ts";
import { checkAdmin as checkCallerAdmin, resolveCaller } from "../../lib/server/caller.ts";
import { watchService } from "../../lib/api/watch_service.ts";
import type { Member } from "../../lib/server/member.ts";
import { startTestServer } from "../server/harness.ts";

const enc = (s: string) => new TextEncoder().encode(s);

/** The server's resolution of the credentials `c` carries. */
const authInfo = (m: Member, c: HandlerContext) => resolveCaller(m, callerOf(c));

/** The server's admin check for the credentials `c` carries. */
const checkAdmin = (m: Member, c: HandlerContext) => checkCallerAdmin(m, callerOf(c));

/** A handler context as the gRPC intake makes it, with `header` as request metadata. */
function ctx(header: Record<string, string> = {}, signal?: AbortSignal): HandlerContext {
  return createHandlerContext({
    service: Auth,
    method: Auth.method.userList,
    protocolName: "grpc",
    requestMethod: "POST",
    url: "http://127.0.0.1/etcdserverpb.Auth/UserList",
    requestHeader: header,
    requestSignal: signal,
  });
}

/** The first response of a watch stream that sends one create request for `key`. */
async function firstWatchResponse(
  m: Member,
  key: string,
  header: Record<string, string>,
): Promise<pb.WatchResponse> {
  const ac = new AbortController();
  let release = () => {};
  const held = new Promise<void>((r) => (release = r));
  async function* requests(): AsyncIterable<pb.WatchRequest> {
    yield create(pb.WatchRequestSchema, {
      requestUnion: {
        case: "createRequest",
        value: create(pb.WatchCreateRequestSchema, { key: enc(key), watchId: 5n }),
      },
    });
    await held; // the client keeps its side open until the test is done
  }
  const it = watchService(new EtcdServer(m)).watch!(requests(), ctx(header, ac.signal))
    [Symbol.asyncIterator]();
  try {
    const r = await it.next();
    assert.equal(r.done, false);
    return create(pb.WatchResponseSchema, r.value);
  } finally {
    ac.abort();
    await it.return?.();
    release();
  }
}

Deno.test("authInfo/checkAdmin: a token the member cannot resolve is refused, auth on or off", async () => {
  const s = await startTestServer();
  const m = s.server.member;
  const auth = authService(new AuthServer(m));
  try {
    // auth disabled: no token is nobody; an unknown token is etcd's invalid auth token
    assert.equal(await authInfo(m, ctx()), undefined);
    await checkAdmin(m, ctx());
    const headers: Record<string, string>[] = [
      { token: "bogus" },
      { authorization: "bogus" },
      { token: "abcdefghijklmnop.1" },
    ];
    for (const h of headers) {
      await assert.rejects(authInfo(m, ctx(h)), (e) => Errors.invalidAuthToken.is(e));
      await assert.rejects(checkAdmin(m, ctx(h)), (e) => Errors.invalidAuthToken.is(e));
    }
    const w = await firstWatchResponse(m, "a", { token: "bogus" });
    assert.equal(w.watchId, -1n);
    assert.ok(w.created && w.canceled);
    assert.equal(
      w.cancelReason,
      "rpc error: code = Unauthenticated desc = etcdserver: invalid auth token",
    );
    // without a token the same watch is created
    const ok = await firstWatchResponse(m, "a", {});
    assert.ok(ok.created && !ok.canceled);
    assert.equal(ok.watchId, 5n); // the id the client chose

    // auth enabled: a token resolves to its user; root may administer
    await auth.userAdd!(
      create(pb.AuthUserAddRequestSchema, { name: "root", password: "pw" }),
      ctx(),
    );
    await auth.userGrantRole!(
      create(pb.AuthUserGrantRoleRequestSchema, { user: "root", role: "root" }),
      ctx(),
    );
    await auth.authEnable!(create(pb.AuthEnableRequestSchema), ctx());
    const a = await auth.authenticate!(
      create(pb.AuthenticateRequestSchema, { name: "root", password: "pw" }),
      ctx(),
    );
    const token = a.token ?? "";
    assert.match(token, /^[A-Za-z]{16}\.\d+$/);
    assert.deepEqual(await authInfo(m, ctx({ token })), {
      username: "root",
      revision: m.auth.revision,
    });
    await checkAdmin(m, ctx({ token }));
    await checkAdmin(m, ctx({ authorization: token })); // the gateway's header
    await assert.rejects(checkAdmin(m, ctx()), (e) => Errors.userEmpty.is(e));
    await assert.rejects(
      checkAdmin(m, ctx({ token: "bogus" })),
      (e) => Errors.invalidAuthToken.is(e),
    );
    const empty = await firstWatchResponse(m, "a", {});
    assert.equal(empty.watchId, -1n);
    assert.equal(
      empty.cancelReason,
      "rpc error: code = InvalidArgument desc = etcdserver: user name is empty",
    );

    // disabling auth forgets every simple token: the old one is now invalid, as with etcd
    await auth.authDisable!(create(pb.AuthDisableRequestSchema), ctx({ token }));
    assert.equal(m.auth.enabled, false);
    await assert.rejects(authInfo(m, ctx({ token })), (e) => Errors.invalidAuthToken.is(e));
    assert.equal(await authInfo(m, ctx()), undefined);
  } finally {
    await s.close();
  }
});

Deno.test("watch: a range the user may not read is refused with etcd's gRPC status text", async () => {
  const s = await startTestServer();
  const m = s.server.member;
  const auth = authService(new AuthServer(m));
  try {
    await auth.userAdd!(
      create(pb.AuthUserAddRequestSchema, { name: "root", password: "pw" }),
      ctx(),
    );
    await auth.userGrantRole!(
      create(pb.AuthUserGrantRoleRequestSchema, { user: "root", role: "root" }),
      ctx(),
    );
    await auth.userAdd!(create(pb.AuthUserAddRequestSchema, { name: "u", password: "upw" }), ctx());
    await auth.authEnable!(create(pb.AuthEnableRequestSchema), ctx());
    const a = await auth.authenticate!(
      create(pb.AuthenticateRequestSchema, { name: "u", password: "upw" }),
      ctx(),
    );
    const w = await firstWatchResponse(m, "secret", { token: a.token ?? "" });
    assert.equal(w.watchId, -1n);
    assert.ok(w.created && w.canceled);
    assert.equal(
      w.cancelReason,
      "rpc error: code = PermissionDenied desc = etcdserver: permission denied",
    );
    assert.equal(w.header?.revision, BigInt(m.store.rev()));
  } finally {
    await s.close();
  }
});
