/**
 * Where etcd clients put their auth token: gRPC clients (clientv3, etcdctl) send it as the
 * "token" metadata entry; REST gateway clients send an "Authorization" header, which etcd
 * reads as the same token (no "Bearer" prefix). Services call `authToken(ctx.requestHeader)`
 * for every protocol, since the gateway passes HTTP headers through as request metadata.
 */

/** The auth token of a request, or undefined when it carries none. */
export function authToken(header: Headers): string | undefined {
  const token = header.get("token") ?? header.get("authorization");
  return token === null || token === "" ? undefined : token;
}
