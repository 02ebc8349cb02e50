/**
 * RangeStream served by a member over gRPC, gRPC-web and Connect: the merged chunks equal
 * Range's answer, Range's auth applies, etcd's refusals, a client going away ends the call on
 * the member, and a compaction past the stream's revision ends it with etcd's error.
 */
import assert from "node:assert/strict";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import {
  KV,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  type RangeRequestSchema,
  type RangeResponse,
} from "../../proto/gen/etcdserverpb/rpc_pb.ts";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type GrpcMember, startGrpcMember } from "./grpc_member.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

type KvClient = ReturnType<typeof createClient<typeof KV>>;

/** Every chunk of a stream, checked for etcd's field population, and their merge. */
async function streamed(
  kv: KvClient,
  req: MessageInitShape<typeof RangeRequestSchema>,
  headers?: Record<string, string>,
): Promise<{ merged: RangeResponse; chunks: number }> {
  const kvs = [];
  let last: RangeResponse | undefined;
  let chunks = 0;
  for await (const c of kv.rangeStream(req, { headers })) {
    const r = c.rangeResponse!;
    if (last !== undefined) {
      assert.equal(last.header, undefined, "only the last chunk has a header");
      assert.equal(last.count, 0n);
    }
    kvs.push(...r.kvs);
    last = r;
    chunks++;
  }
  assert.ok(last?.header, "the last chunk has the header");
  return { merged: { ...last, kvs }, chunks };
}

function same(a: RangeResponse, b: RangeResponse, what: string): void {
  assert.equal(a.header?.revision, b.header?.revision, what);
  assert.equal(a.header?.memberId, b.header?.memberId, what);
  assert.equal(a.header?.raftTerm, b.header?.raftTerm, what);
  assert.equal(a.count, b.count, what);
  assert.equal(a.more, b.more, what);
  assert.deepEqual(
    a.kvs.map((kv) => [dec(kv.key), kv.modRevision, kv.version, dec(kv.value)]),
    b.kvs.map((kv) => [dec(kv.key), kv.modRevision, kv.version, dec(kv.value)]),
    what,
  );
}

async function fill(m: GrpcMember, prefix: string, n: number, size: number): Promise<void> {
  const value = "x".repeat(size);
  for (let i = 0; i < n; i += 50) {
    await Promise.all(
      Array.from(
        { length: Math.min(50, n - i) },
        (_, j) =>
          m.kv.put({ key: enc(`${prefix}${String(i + j).padStart(5, "0")}`), value: enc(value) }),
      ),
    );
  }
}

Deno.test("api range stream: Range's answer over gRPC, gRPC-web and Connect", async () => {
  const m = await startGrpcMember();
  try {
    await fill(m, "r/", 600, 100);
    const old = (await m.kv.range({ key: enc("r/") })).header!.revision;
    await m.kv.deleteRange({ key: enc("r/00100"), rangeEnd: enc("r/00200") });
    await fill(m, "s/", 3, 10);
    const transports: [string, Transport][] = [
      ["grpc", m.transport],
      ["grpc-web", createGrpcWebTransport({ baseUrl: m.s.url })],
      ["connect", createConnectTransport({ baseUrl: m.s.url })],
    ];
    const reqs: MessageInitShape<typeof RangeRequestSchema>[] = [
      { key: enc("r/"), rangeEnd: enc("r0") },
      { key: enc("r/"), rangeEnd: enc("r0"), limit: 123n },
      { key: enc("r/"), rangeEnd: enc("r0"), revision: old, keysOnly: true },
      { key: enc("r/"), rangeEnd: enc("r0"), countOnly: true },
      { key: enc("\0"), rangeEnd: enc("\0"), serializable: true },
      { key: enc("r/00042") },
      { key: enc("nothing") },
      {
        key: enc("r/"),
        rangeEnd: enc("r0"),
        sortOrder: RangeRequest_SortOrder.ASCEND,
        sortTarget: RangeRequest_SortTarget.KEY,
      },
    ];
    for (const [name, transport] of transports) {
      const kv = createClient(KV, transport);
      for (const req of reqs) {
        const want = await m.kv.range(req);
        const { merged, chunks } = await streamed(kv, req);
        same(merged, want, `${name} ${JSON.stringify(req, (_k, v) => String(v))}`);
        if (req.rangeEnd !== undefined && !req.countOnly) assert.ok(chunks > 3, `${chunks}`);
      }
      // etcd's refusals, with its code and message
      await assert.rejects(
        streamed(kv, { key: enc("r/"), rangeEnd: enc("r0"), sortOrder: 2 }),
        (e: ConnectError) =>
          e.code === Code.Unimplemented &&
          e.rawMessage === "RangeStream does not support custom sort orders",
      );
      await assert.rejects(
        streamed(kv, { key: enc("r/"), rangeEnd: enc("r0"), minModRevision: 2n }),
        (e: ConnectError) =>
          e.code === Code.Unimplemented &&
          e.rawMessage === "RangeStream does not support revision filters",
      );
      await assert.rejects(
        streamed(kv, { key: new Uint8Array(0) }),
        (e: ConnectError) =>
          e.code === Code.InvalidArgument && e.rawMessage === "etcdserver: key is not provided",
      );
      await assert.rejects(
        streamed(kv, { key: enc("r/"), revision: 1n << 40n }),
        (e: ConnectError) => e.code === Code.OutOfRange,
      );
    }
  } finally {
    await m.close();
  }
});

Deno.test("api range stream: Range's permission checks", async () => {
  const m = await startGrpcMember();
  try {
    const { root, u } = await m.enableAuth();
    await m.kv.put({ key: enc("ok/1"), value: enc("a") }, { headers: { token: root } });
    await m.kv.put({ key: enc("no/1"), value: enc("b") }, { headers: { token: root } });
    const mine = await streamed(m.kv, { key: enc("ok/"), rangeEnd: enc("ok0") }, { token: u });
    assert.deepEqual(mine.merged.kvs.map((kv) => dec(kv.key)), ["ok/1"]);
    for (
      const req of [{ key: enc("no/"), rangeEnd: enc("no0") }, {
        key: enc("\0"),
        rangeEnd: enc("\0"),
      }]
    ) {
      await assert.rejects(
        streamed(m.kv, req, { token: u }),
        (e: ConnectError) =>
          e.code === Code.PermissionDenied && e.rawMessage === "etcdserver: permission denied",
      );
    }
    await assert.rejects(
      streamed(m.kv, { key: enc("ok/"), rangeEnd: enc("ok0") }),
      (e: ConnectError) => e.code === Code.InvalidArgument || e.code === Code.PermissionDenied,
    );
  } finally {
    await m.close();
  }
});

/** The count of a metric series in the member's /metrics, 0 when absent. */
async function metric(url: string, series: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

async function until(what: string, ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("api range stream: a client going away ends the call; a compacted revision", async () => {
  const m = await startGrpcMember();
  try {
    await fill(m, "r/", 3000, 1000); // ~3 MiB: far more than the first chunks
    const labels =
      'grpc_type="server_stream",grpc_service="etcdserverpb.KV",grpc_method="RangeStream"';
    const canceled = `grpc_server_handled_total{${labels},grpc_code="Canceled"}`;
    const sentSeries = `grpc_server_msg_sent_total{${labels}}`;
    const ac = new AbortController();
    let got = 0;
    await assert.rejects(
      (async () => {
        for await (
          const c of m.kv.rangeStream({ key: enc("r/"), rangeEnd: enc("r0") }, {
            signal: ac.signal,
          })
        ) {
          got += c.rangeResponse!.kvs.length;
          if (got > 0) ac.abort();
        }
      })(),
      (e: ConnectError) => e.code === Code.Canceled,
    );
    // the member's handler ends (no read left open) without reading the rest of the range
    await until("the canceled call to end", async () => (await metric(m.s.url, canceled)) === 1);
    const sent = await metric(m.s.url, sentSeries);
    assert.ok(sent < 12, `${sent} chunks sent of a canceled stream`);

    // a compacted revision: etcd's error (the same past the first chunk: tests/mvcc)
    const rev = (await m.kv.range({ key: enc("r/") })).header!.revision;
    await m.kv.put({ key: enc("r/00000"), value: enc("newer") });
    await m.kv.compact({ revision: rev + 1n, physical: true });
    await assert.rejects(
      streamed(m.kv, { key: enc("r/"), rangeEnd: enc("r0"), revision: rev }),
      (e: ConnectError) =>
        e.code === Code.OutOfRange &&
        e.rawMessage === "etcdserver: mvcc: required revision has been compacted",
    );
  } finally {
    await m.close();
  }
});
