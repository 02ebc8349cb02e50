/**
 * Micro-benchmarks of the HTTP layer's hot paths: HPACK decoding of a typical gRPC request
 * header block (first on a connection, then with the dynamic table warm), HPACK encoding of a
 * gRPC response (HEADERS + trailers), and Huffman decoding. `deno bench -A bench/http_bench.ts`.
 */
import { ByteBuffer } from "../lib/http/byte_buffer.ts";
import { HpackDecoder, HpackEncoder } from "../lib/http/hpack.ts";
import { huffmanDecode, huffmanEncode, huffmanEncodedLength } from "../lib/http/huffman.ts";

const request: [string, string][] = [
  [":method", "POST"],
  [":scheme", "http"],
  [":path", "/etcdserverpb.KV/Range"],
  [":authority", "127.0.0.1:2379"],
  ["content-type", "application/grpc"],
  ["user-agent", "grpc-go/1.26.0"],
  ["te", "trailers"],
  ["grpc-timeout", "4999967u"],
];

function block(enc: HpackEncoder, fields: [string, string][]): Uint8Array {
  const b = new ByteBuffer(256);
  enc.begin(b);
  for (const [n, v] of fields) enc.field(b, n, v);
  return b.view().slice();
}

const clientEnc = new HpackEncoder();
const firstBlock = block(clientEnc, request);
const warmBlock = block(clientEnc, request);
const out: string[] = [];

Deno.bench("hpack decode: gRPC request headers, cold table", () => {
  const d = new HpackDecoder();
  out.length = 0;
  d.decode(firstBlock, 0, firstBlock.length, out);
});

const warm = new HpackDecoder();
warm.decode(firstBlock, 0, firstBlock.length, []);
Deno.bench("hpack decode: gRPC request headers, warm table (steady state)", () => {
  out.length = 0;
  warm.decode(warmBlock, 0, warmBlock.length, out);
});

const serverEnc = new HpackEncoder();
const buf = new ByteBuffer(256);
Deno.bench("hpack encode: gRPC response headers + trailers (steady state)", () => {
  buf.reset();
  serverEnc.begin(buf);
  serverEnc.field(buf, ":status", "200");
  serverEnc.field(buf, "content-type", "application/grpc");
  serverEnc.field(buf, "grpc-status", "0");
});

const text = "Mon, 21 Oct 2013 20:13:21 GMT https://www.example.com/some/path?q=1";
const huff = new Uint8Array(huffmanEncodedLength(text));
huffmanEncode(text, huff, 0);
Deno.bench("huffman decode: 68-char value", () => {
  huffmanDecode(huff, 0, huff.length);
});
