/**
 * etcd's Watch service over a member: one WatchHub stream per client stream; create, cancel
 * and progress requests go to it as they arrive, and its responses go out (split into
 * fragments for watchers created with `fragment`, under --max-request-bytes).
 */
import { toBinary } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { Errors, EtcdError, GrpcCode } from "../base/errors.ts";
import { callerOf } from "./request_auth.ts";
import type { Watch } from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import * as pb from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import { saturateInt64 } from "../base/types.ts";
import { fragmentResponse } from "../mvcc/fragment.ts";
import {
  type WatchCreateRequest,
  type WatchFilter,
  type WatchResponse,
  watchResponse,
} from "../mvcc/watch_types.ts";
import {
  acceptsEncoded,
  asResponse,
  EncodedMessages,
  type MessageSink,
  messageSinkOf,
} from "./encoded_messages.ts";
import { WatchWire } from "./watch_wire.ts";
import type { WatchStream } from "../mvcc/watch_hub.ts";
import type { EtcdServer } from "../server/etcd_server.ts";
import { WatchIds } from "../server/convert.ts";

function createFromPb(r: pb.WatchCreateRequest, ids: WatchIds): WatchCreateRequest {
  return {
    key: r.key,
    rangeEnd: r.rangeEnd,
    startRevision: saturateInt64(r.startRevision),
    progressNotify: r.progressNotify,
    filters: r.filters.map((f) => f as number as WatchFilter),
    prevKv: r.prevKv,
    watchId: ids.forCreate(r.watchId),
    fragment: r.fragment,
  };
}

/** Lets the request reader wait while the client is slow to take responses. */
class Room {
  #waiter: (() => void) | null = null;
  #closed = false;
  /** Resolves once the stream has room (or is closed). */
  wait(stream: WatchStream): Promise<void> | void {
    if (stream.hasRoom() || this.#closed) return;
    return new Promise((r) => (this.#waiter = r));
  }
  /** The server stream ended: never make the reader wait again. */
  close(): void {
    this.#closed = true;
  }
  /** Called after each response is taken. */
  check(stream: WatchStream): void {
    if (this.#waiter !== null && (stream.hasRoom() || this.#closed)) {
      const w = this.#waiter;
      this.#waiter = null;
      w();
    }
  }
}

async function readRequests(
  s: EtcdServer,
  ctx: HandlerContext,
  requests: AsyncIterable<pb.WatchRequest>,
  stream: WatchStream,
  fragmented: Set<number>,
  room: Room,
  ids: WatchIds,
): Promise<void> {
  try {
    for await (const req of requests) {
      // backpressure: read no more requests while the client is not taking responses
      await room.wait(stream);
      const u = req.requestUnion;
      switch (u.case) {
        case "createRequest": {
          const denied = await watchDenied(s, ctx, u.value);
          if (denied !== undefined) {
            // etcd answers a refused watch as created and canceled at once, with no id
            stream.push(
              watchResponse({
                watchId: INVALID_WATCH_ID,
                revision: s.watch.revision(),
                created: true,
                canceled: true,
                cancelReason: denied,
              }),
              true,
            );
            break;
          }
          const id = stream.watch(createFromPb(u.value, ids));
          if (id >= 0 && u.value.fragment) fragmented.add(id);
          break;
        }
        case "cancelRequest": {
          const id = ids.forCancel(u.value.watchId);
          if (id === undefined) break;
          fragmented.delete(id);
          stream.cancel(id);
          break;
        }
        case "progressRequest":
          stream.requestProgress();
          break;
      }
    }
  } catch {
    // the request stream broke: the server stream ends
    stream.close();
  }
  // A client that only closed its side keeps receiving until it leaves (ctx.signal), as with
  // etcd, whose recvLoop returns nil on EOF without ending the stream: `curl -d '{create}'
  // /v3/watch` sends one request, closes its body, and waits for events.
}

/**
 * Bounds of one piece of the direct gRPC path: the responses taken from the stream's queue at
 * once stop at this many key and value bytes (a response is never split), or this many
 * responses (the queue holds 128, and draining it hands victims' held responses over).
 */
const BATCH_BYTES = 64 * 1024;
const BATCH_RESPONSES = 256;

/** Key and value bytes of a response's events (the bulk of its encoding). */
function eventBytes(r: WatchResponse): number {
  let n = 0;
  for (const e of r.events) {
    n += e.kv.key.length + e.kv.value.length;
    if (e.prevKv !== undefined) n += e.prevKv.key.length + e.prevKv.value.length;
  }
  return n;
}

/**
 * Takes `first` and the responses queued behind it into `batch` (split into fragments by
 * `split`), up to BATCH_BYTES of keys and values or BATCH_RESPONSES responses.
 */
function takeBatch(
  stream: WatchStream,
  first: WatchResponse | undefined,
  batch: WatchResponse[],
  split: (r: WatchResponse) => WatchResponse[] | WatchResponse,
): void {
  let r = first;
  let bytes = 0;
  while (r !== undefined) {
    const ps = split(r);
    if (Array.isArray(ps)) { for (const p of ps) batch.push(p); }
    else batch.push(ps);
    bytes += eventBytes(r);
    if (bytes >= BATCH_BYTES || batch.length >= BATCH_RESPONSES) break;
    r = stream.tryNext();
  }
}

/**
 * Sends the stream's responses through `sink` as the hub queues them, until the stream
 * closes: the responses queued in one turn (a commit's, for every watcher of the stream) leave
 * as one piece in a microtask after it. While the sink holds a backlog nothing more is taken
 * from the stream, so its queue fills and its watchers become victims, as when a pulling
 * reader stops reading.
 */
function pushResponses(
  stream: WatchStream,
  sink: MessageSink,
  encode: (rs: WatchResponse[]) => Uint8Array,
  split: (r: WatchResponse) => WatchResponse[] | WatchResponse,
  room: Room,
): Promise<void> {
  return new Promise((resolve) => {
    const batch: WatchResponse[] = [];
    let scheduled = false;
    let blocked = false;
    const drain = () => {
      scheduled = false;
      while (!blocked) {
        takeBatch(stream, stream.tryNext(), batch, split);
        if (batch.length === 0) break;
        const out = new EncodedMessages(encode(batch), batch.length);
        batch.length = 0;
        room.check(stream);
        if (!sink.send(out)) blocked = true;
      }
      if (stream.closed) resolve();
    };
    const kick = () => {
      if (scheduled) return;
      scheduled = true;
      queueMicrotask(drain);
    };
    sink.onRoom = () => {
      blocked = false;
      kick();
    };
    stream.listen(kick);
    kick();
  });
}

/** clientv3's InvalidWatchID: the id etcd gives a watch it refused to create. */
const INVALID_WATCH_ID = -1;

/** The refusals etcd's watch server names as themselves; anything else is permission denied. */
const OWN_REASONS = [Errors.invalidAuthToken, Errors.authOldRevision, Errors.userEmpty];

/**
 * Why etcd would refuse this watch (its isWatchPermitted: the caller's token resolves, and
 * the caller may read the range), or undefined when it may watch. etcd's cancel reason is the
 * gRPC status error's text, `rpc error: code = <Code> desc = <message>`, which etcdctl prints
 * as `watch was canceled (<reason>)`. A token is resolved even with auth disabled, as etcd.
 */
async function watchDenied(
  s: EtcdServer,
  ctx: HandlerContext,
  r: pb.WatchCreateRequest,
): Promise<string | undefined> {
  try {
    await s.watch.checkRead(callerOf(ctx), r.key, r.rangeEnd);
    return undefined;
  } catch (err) {
    const e = OWN_REASONS.some((d) => d.is(err)) ? err as EtcdError : Errors.permissionDenied();
    return grpcErrorText(e);
  }
}

/** What Go's grpc status error prints (`status.Error(...).Error()`). */
function grpcErrorText(e: EtcdError): string {
  return `rpc error: code = ${GrpcCode[e.code]} desc = ${e.message}`;
}

/** The Watch service implementation for createApiHandler. */
export function watchService(s: EtcdServer): Partial<ServiceImpl<typeof Watch>> {
  const w = s.watch;
  const wire = new WatchWire(w);
  return {
    async *watch(requests, ctx) {
      const stream = w.open();
      const fragmented = new Set<number>();
      const onAbort = () => stream.close();
      ctx.signal.addEventListener("abort", onAbort);
      // not awaited: a client may keep its side open after the server stream ended
      const room = new Room();
      const ids = new WatchIds();
      readRequests(s, ctx, requests, stream, fragmented, room, ids).catch(() => {});
      const headerBytes = toBinary(pb.ResponseHeaderSchema, s.header()).length;
      const fragments = (r: WatchResponse): boolean =>
        r.events.length > 1 && fragmented.size > 0 && fragmented.has(r.watchId);
      const split = (r: WatchResponse): WatchResponse[] | WatchResponse =>
        fragments(r) ? fragmentResponse(r, w.maxRequestBytes, headerBytes) : r;
      try {
        const sink = messageSinkOf(ctx);
        if (sink !== undefined) {
          // the direct gRPC path, pushed: each commit's responses go to the connection's
          // frames in the commit's turn (one microtask after it, to take a stream's watchers
          // together), encoded with the bytes they share with other watchers'
          await pushResponses(stream, sink, (rs) => wire.encode(rs, ids), split, room);
        } else if (acceptsEncoded(ctx)) {
          // the direct gRPC path: every response queued when the stream is read leaves in one
          // piece, encoded with the bytes it shares with other watchers' (lib/api/watch_wire.ts)
          const batch: WatchResponse[] = [];
          for (;;) {
            takeBatch(stream, await stream.next(), batch, split);
            if (batch.length === 0) break;
            const out = new EncodedMessages(wire.encode(batch, ids), batch.length);
            batch.length = 0;
            room.check(stream);
            yield asResponse<pb.WatchResponse>(out);
          }
        } else {
          for await (const r of stream) {
            const ps = split(r);
            if (Array.isArray(ps)) { for (const p of ps) yield w.toWire(p, ids); }
            else yield w.toWire(ps, ids);
            room.check(stream);
          }
        }
      } finally {
        ctx.signal.removeEventListener("abort", onAbort);
        stream.close();
        room.close();
        room.check(stream);
      }
    },
  };
}
