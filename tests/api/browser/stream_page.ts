/**
 * The script of the browser stream tests' page, bundled for the browser by the test (`deno
 * bundle`) and driven through `globalThis.concord` from puppeteer. It calls Concord's
 * streaming RPCs the way a web application would, with connect-web's Connect and gRPC-web
 * transports over the browser's fetch.
 *
 * connect-web refuses bidirectional methods (fetch cannot stream a request body over
 * HTTP/1.1), so Watch and LeaseKeepAlive are called half-duplex: through a copy of the
 * service whose bidirectional methods are declared server-streaming. The wire format is the
 * same (one enveloped request message, then the body ends); the server serves such a call
 * as it reads it.
 */
import { ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Lease, Maintenance, Watch } from "../../../proto/gen/etcdserverpb/rpc_pb.ts";
import { Election } from "../../../proto/gen/v3electionpb/v3election_pb.ts";

/** The two browser protocols under test. */
export type Protocol = "connect" | "grpc-web";

/** One watch event as the page reports it. */
export interface PageEvent {
  type: string;
  key: string;
  value: string;
  modRevision: string;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function transport(baseUrl: string, protocol: Protocol): Transport {
  // Connect with its default JSON codec (what a web page usually sends), gRPC-web binary.
  return protocol === "connect"
    ? createConnectTransport({ baseUrl })
    : createGrpcWebTransport({ baseUrl });
}

/** The service with its bidirectional methods declared server-streaming (see above). */
function halfDuplex<S extends DescService>(service: S): S {
  const methods = service.methods.map((m): DescMethod =>
    m.methodKind === "bidi_streaming" ? { ...m, methodKind: "server_streaming" } as DescMethod : m
  );
  return { ...service, methods };
}

/** A server-streaming view of a bidi method: one request in, the responses out. */
type Streaming<Req, Res> = (req: Req, opts: { signal: AbortSignal }) => AsyncIterable<Res>;

/** A stream the page holds open between the test's calls. */
interface OpenStream {
  items: unknown[];
  ac: AbortController;
  /** Why the stream ended: "" while open, else "end of stream" or the error's code. */
  ended: string;
  done: Promise<void>;
}

const streams = new Map<string, OpenStream>();

function codeName(err: unknown): string {
  const ce = ConnectError.from(err);
  return `code ${ce.code}: ${ce.rawMessage}`;
}

async function waitFor(what: () => string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Opens stream `id`: every response goes through `collect` (which returns the items it holds
 * and may report the stream ready); resolves once it is ready.
 */
function open<R>(
  id: string,
  call: (signal: AbortSignal) => AsyncIterable<R>,
  collect: (r: R, ready: () => void) => unknown[],
): Promise<void> {
  const ac = new AbortController();
  const s: OpenStream = { items: [], ac, ended: "", done: Promise.resolve() };
  let ready: () => void = () => {};
  let failed: (err: Error) => void = () => {};
  const readyP = new Promise<void>((res, rej) => {
    ready = res;
    failed = rej;
  });
  s.done = (async () => {
    try {
      for await (const r of call(ac.signal)) s.items.push(...collect(r, ready));
      s.ended = "end of stream";
    } catch (err) {
      s.ended = codeName(err);
    }
    failed(new Error(`stream ended before it was ready: ${s.ended}`));
  })();
  streams.set(id, s);
  return readyP;
}

function stream(id: string): OpenStream {
  const s = streams.get(id);
  if (s === undefined) throw new Error(`no stream ${id}`);
  return s;
}

interface PbWatchResponse {
  created: boolean;
  events: { type: number; kv?: { key: Uint8Array; value: Uint8Array; modRevision: bigint } }[];
}

const api = {
  /** Starts watching `prefix` as stream `id`; resolves once the created response arrived. */
  watchStart(id: string, baseUrl: string, protocol: Protocol, prefix: string): Promise<void> {
    const client = createClient(halfDuplex(Watch), transport(baseUrl, protocol));
    const watch = (client as unknown as { watch: Streaming<unknown, PbWatchResponse> }).watch;
    const key = enc.encode(prefix);
    const rangeEnd = key.slice();
    rangeEnd[rangeEnd.length - 1]++;
    const req = { requestUnion: { case: "createRequest", value: { key, rangeEnd } } };
    return open(id, (signal) => watch(req, { signal }), (r, ready) => {
      if (r.created) ready();
      return r.events.map((e): PageEvent => ({
        type: e.type === 0 ? "PUT" : "DELETE",
        key: dec.decode(e.kv?.key),
        value: dec.decode(e.kv?.value),
        modRevision: String(e.kv?.modRevision ?? 0n),
      }));
    });
  },

  /** Observes election `name` as stream `id`; resolves once the first leader value arrived. */
  observeStart(id: string, baseUrl: string, protocol: Protocol, name: string): Promise<void> {
    const client = createClient(Election, transport(baseUrl, protocol));
    return open(
      id,
      (signal) => client.observe({ name: enc.encode(name) }, { signal }),
      (r, ready) => {
        ready();
        return [dec.decode(r.kv?.value)];
      },
    );
  },

  /** The first `n` items of stream `id`, once they have arrived (fewer if it ended). */
  async items(id: string, n: number, timeoutMs: number): Promise<unknown[]> {
    const s = stream(id);
    await waitFor(
      () => `${n} items (have ${s.items.length}, ended: ${s.ended || "no"})`,
      () => s.items.length >= n || s.ended !== "",
      timeoutMs,
    );
    return s.items.slice(0, n);
  },

  /** Aborts stream `id` (the fetch is cancelled); resolves with how the client saw it end. */
  async cancel(id: string): Promise<string> {
    const s = stream(id);
    s.ac.abort();
    await s.done;
    streams.delete(id);
    return s.ended;
  },

  /** One keep-alive of lease `leaseId` (decimal); the call ends when its request body has. */
  async keepAlive(baseUrl: string, protocol: Protocol, leaseId: string) {
    const client = createClient(halfDuplex(Lease), transport(baseUrl, protocol));
    const keepAlive = (client as unknown as {
      leaseKeepAlive: Streaming<{ ID: bigint }, { ID: bigint; TTL: bigint }>;
    }).leaseKeepAlive;
    const out: { id: string; ttl: string }[] = [];
    const ac = new AbortController();
    for await (const r of keepAlive({ ID: BigInt(leaseId) }, { signal: ac.signal })) {
      out.push({ id: String(r.ID), ttl: String(r.TTL) });
    }
    return out;
  },

  /** A snapshot streamed whole: its size, chunk count, and whether its SHA-256 trailer holds. */
  async snapshot(baseUrl: string, protocol: Protocol) {
    const client = createClient(Maintenance, transport(baseUrl, protocol));
    const parts: Uint8Array[] = [];
    let size = 0;
    for await (const r of client.snapshot({})) {
      parts.push(r.blob);
      size += r.blob.length;
    }
    const all = new Uint8Array(size);
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", all.subarray(0, size - 32)),
    );
    const trailer = all.subarray(size - 32);
    return { size, chunks: parts.length, checksumOk: digest.every((b, i) => b === trailer[i]) };
  },
};

/** What the page offers the test (everything JSON-serializable). */
export type PageApi = typeof api;

(globalThis as unknown as { concord: PageApi }).concord = api;
