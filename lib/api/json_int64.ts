/**
 * Exact 64-bit integers in request JSON. etcd's gateway (Go's jsonpb) reads an int64 field
 * sent as a JSON number from its text, so `{"ID": 5725098008849044745}` names exactly that
 * lease; `JSON.parse` would turn it into the nearest double (5725098008849044480: doubles
 * that large are 1024 apart) and every lease id (~5e18) sent as a number would miss. Integer
 * literals a double cannot hold exactly are therefore turned into JSON strings before
 * parsing: protobuf's JSON mapping accepts an integer field as a string or a number alike,
 * and the string keeps every digit.
 */
import type { JsonValue } from "@bufbuild/protobuf";

/** Quick reject: only a run of 16+ digits can exceed 2^53 - 1 (9007199254740991). */
const LONG_DIGITS = /\d{16}/;

/**
 * `text` with every integer literal outside the safe double range quoted as a string; the
 * text itself when it holds none (the common case, no copy). Strings are skipped, so digits
 * inside them are never touched; what is not valid JSON stays invalid for the parser to
 * report.
 */
export function quoteLargeIntegers(text: string): string {
  if (!LONG_DIGITS.test(text)) return text;
  let out = "";
  let copied = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i += 2;
        else if (d === 0x22) {
          i++;
          break;
        } else i++;
      }
      continue;
    }
    if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (
          (d >= 0x30 && d <= 0x39) || d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b ||
          d === 0x2d
        ) i++;
        else break;
      }
      const token = text.slice(start, i);
      if (/^-?\d{16,}$/.test(token) && !Number.isSafeInteger(Number(token))) {
        out += text.slice(copied, start) + '"' + token + '"';
        copied = i;
      }
      continue;
    }
    i++;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/** `JSON.parse` keeping integers beyond 2^53 exact (as strings); see the module comment. */
export function parseJsonExact(text: string): JsonValue {
  return JSON.parse(quoteLargeIntegers(text)) as JsonValue;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Content types whose bodies are enveloped JSON messages (Connect streams, gRPC(-web)+json). */
export const ENVELOPED_JSON = /^application\/(?:connect|grpc|grpc-web)\+json(?:;|$)/i;

/**
 * An enveloped request body (5-byte header: flags, big-endian length; then the message) with
 * `quoteLargeIntegers` applied to each uncompressed message, for the Connect router's JSON
 * paths, whose parser cannot be replaced. A compressed message, or one declared larger than
 * `maxMessageBytes` (refused downstream), passes through unchanged and unbuffered.
 */
export async function* quoteLargeIntegersInEnvelopes(
  body: AsyncIterable<Uint8Array>,
  maxMessageBytes: number,
): AsyncGenerator<Uint8Array> {
  let buf: Uint8Array = new Uint8Array(0);
  let passThrough = 0; // bytes still to forward as they are
  for await (const chunk of body) {
    buf = buf.length === 0 ? chunk : concat(buf, chunk);
    while (buf.length > 0) {
      if (passThrough > 0) {
        const n = Math.min(passThrough, buf.length);
        yield buf.subarray(0, n);
        buf = buf.subarray(n);
        passThrough -= n;
        continue;
      }
      if (buf.length < 5) break;
      const flags = buf[0];
      const len = new DataView(buf.buffer, buf.byteOffset, 5).getUint32(1);
      if ((flags & 0x01) !== 0 || len > maxMessageBytes) {
        passThrough = 5 + len;
        continue;
      }
      if (buf.length < 5 + len) break;
      const payload = buf.subarray(5, 5 + len);
      const text = decoder.decode(payload);
      const quoted = quoteLargeIntegers(text);
      if (quoted === text) yield buf.subarray(0, 5 + len);
      else {
        const bytes = encoder.encode(quoted);
        const head = new Uint8Array(5);
        head[0] = flags;
        new DataView(head.buffer).setUint32(1, bytes.length);
        yield head;
        yield bytes;
      }
      buf = buf.subarray(5 + len);
    }
  }
  if (buf.length > 0) yield buf; // a truncated envelope: the router reports it
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
