/**
 * gRPC-web's text mode (`application/grpc-web-text`), which Google's grpc-web JavaScript
 * client uses by default: the same frames as binary gRPC-web, base64-encoded in both
 * directions. Connect serves only the binary mode, so the API front decodes the request body
 * into binary frames, lets Connect's gRPC-web handler answer, and base64-encodes its answer.
 */
import type { UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";

const TEXT_RE = /^application\/grpc-web-text(\+proto)?$/i;

/** True for gRPC-web text content types (only the protobuf codec is defined for text). */
export function isGrpcWebText(contentType: string | null): boolean {
  return contentType !== null && TEXT_RE.test(contentType);
}

function decodeQuartets(text: string): Uint8Array {
  // Each 4-character group decodes on its own, so segments that were padded separately
  // (some clients base64 each frame) decode as well as one continuous encoding.
  const out: number[] = [];
  let start = 0;
  while (start < text.length) {
    const pad = text.indexOf("=", start);
    const end = pad < 0 ? text.length : Math.min(text.length, (Math.floor(pad / 4) + 1) * 4);
    const bin = atob(text.slice(start, end));
    for (let i = 0; i < bin.length; i++) out.push(bin.charCodeAt(i));
    start = end;
  }
  return new Uint8Array(out);
}

/** Decodes a base64 body stream into bytes as soon as whole 4-character groups arrive. */
export async function* decodeBase64Stream(
  body: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array, void, undefined> {
  const dec = new TextDecoder();
  let pending = "";
  for await (const chunk of body) {
    pending += dec.decode(chunk, { stream: true }).replace(/\s+/g, "");
    const whole = pending.length - (pending.length % 4);
    if (whole === 0) continue;
    let bytes: Uint8Array;
    try {
      bytes = decodeQuartets(pending.slice(0, whole));
    } catch {
      throw new Error("grpc-web-text: request body is not base64");
    }
    pending = pending.slice(whole);
    if (bytes.length > 0) yield bytes;
  }
  if (pending.length !== 0) throw new Error("grpc-web-text: truncated base64 request body");
}

function toBase64(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

/**
 * Encodes a byte stream as base64, each chunk on its own with its padding, as gRPC-web's
 * protocol has servers do ("base64-encode and flush gRPC messages atomically"): a streamed
 * message is decodable as soon as it is sent. Holding back the bytes past a multiple of three
 * would leave a watch's created response undecodable until the next event came.
 */
export async function* encodeBase64Stream(
  body: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array, void, undefined> {
  const enc = new TextEncoder();
  for await (const chunk of body) {
    if (chunk.length > 0) yield enc.encode(toBase64(chunk));
  }
}

/** The binary gRPC-web request equivalent to a text-mode one. */
export function textRequestToBinary(req: UniversalServerRequest): UniversalServerRequest {
  const header = new Headers(req.header);
  header.set("Content-Type", "application/grpc-web+proto");
  return {
    ...req,
    header,
    body: decodeBase64Stream(req.body as AsyncIterable<Uint8Array>),
  };
}

/** The text-mode answer for a binary gRPC-web answer. */
export function binaryResponseToText(res: UniversalServerResponse): UniversalServerResponse {
  const header = new Headers(res.header);
  const type = header.get("Content-Type");
  if (type !== null && /^application\/grpc-web(\+proto)?$/i.test(type)) {
    header.set("Content-Type", "application/grpc-web-text+proto");
  }
  return { ...res, header, body: res.body ? encodeBase64Stream(res.body) : undefined };
}
