/**
 * etcd's Lease service: routes each call to the server's lease façade; a keep-alive stream
 * is answered one request at a time, in order. Over the direct gRPC path the answers are
 * encoded by hand (lease_keepalive_codec.ts) and a keep-alive the leader's lessor can answer
 * at once is answered without a promise of its own (docs/perf.md, "Lease keep-alive, sixth
 * session").
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type {
  Lease,
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { LeaseServer } from "../server/lease_server.ts";
import { acceptsEncoded, asResponse } from "./encoded_messages.ts";
import { keepAliveHeaderPrefix, KeepAliveResponses } from "./lease_keepalive_codec.ts";
import { callerOf } from "./request_auth.ts";

/** The Lease service implementation for createApiHandler. */
export function leaseService(s: LeaseServer): Partial<ServiceImpl<typeof Lease>> {
  let prefix: Uint8Array | undefined;
  return {
    leaseGrant: (req, ctx) => s.grant(req, callerOf(ctx)),
    leaseRevoke: (req, ctx) => s.revoke(req, callerOf(ctx)),
    leaseKeepAlive(requests, ctx) {
      if (!acceptsEncoded(ctx)) return keepAliveMessages(s, requests);
      prefix ??= keepAliveHeaderPrefix(s.clusterId, s.memberId);
      return new EncodedKeepAlives(s, requests, new KeepAliveResponses(prefix));
    },
    leaseTimeToLive: (req, ctx) => s.timeToLive(req, callerOf(ctx)),
    leaseLeases: () => s.leases(),
  };
}

/** A keep-alive stream's answers as messages (Connect, gRPC-web, the JSON gateway). */
async function* keepAliveMessages(
  s: LeaseServer,
  requests: AsyncIterable<LeaseKeepAliveRequest>,
): AsyncGenerator<LeaseKeepAliveResponse> {
  for await (const req of requests) yield await s.keepAlive(req);
}

/**
 * A keep-alive stream's answers encoded by hand, for the direct gRPC path. A plain iterator
 * rather than an async generator: a keep-alive the leader's lessor answers at once costs one
 * `then` on the request, with no generator to resume and no promise of its own. It is read
 * one answer at a time (the next is asked for once the last is taken), so answers keep the
 * order of the requests; a failed renewal ends the request stream and fails the call.
 */
class EncodedKeepAlives implements AsyncIterableIterator<LeaseKeepAliveResponse> {
  readonly #s: LeaseServer;
  readonly #requests: AsyncIterator<LeaseKeepAliveRequest>;
  readonly #out: KeepAliveResponses;

  constructor(
    s: LeaseServer,
    requests: AsyncIterable<LeaseKeepAliveRequest>,
    out: KeepAliveResponses,
  ) {
    this.#s = s;
    this.#requests = requests[Symbol.asyncIterator]();
    this.#out = out;
  }

  next(): Promise<IteratorResult<LeaseKeepAliveResponse>> {
    return this.#requests.next().then(this.#answer);
  }

  /** The answer to one request: at once for a live lease on the leader, else when known. */
  readonly #answer = (
    r: IteratorResult<LeaseKeepAliveRequest>,
  ): IteratorResult<LeaseKeepAliveResponse> | Promise<IteratorResult<LeaseKeepAliveResponse>> => {
    if (r.done === true) return { done: true, value: undefined };
    const id = r.value.ID;
    const ttl = this.#s.keepAliveNow(id);
    if (ttl !== undefined) return { done: false, value: this.#encode(id, ttl) };
    return this.#s.keepAliveTtl(id).then(
      (ttl) => ({ done: false, value: this.#encode(id, ttl) }),
      async (err) => {
        await this.#requests.return?.();
        throw err;
      },
    );
  };

  #encode(id: bigint, ttl: number): LeaseKeepAliveResponse {
    const s = this.#s;
    return asResponse<LeaseKeepAliveResponse>(this.#out.encode(s.revision(), s.term(), id, ttl));
  }

  async return(): Promise<IteratorResult<LeaseKeepAliveResponse>> {
    await this.#requests.return?.();
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<LeaseKeepAliveResponse> {
    return this;
  }
}
