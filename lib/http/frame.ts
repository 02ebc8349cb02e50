/**
 * HTTP/2 frame layout (RFC 9113 section 4 and 6): type and flag numbers, error codes, settings
 * identifiers, and a writer that appends frames to a shared output buffer so many frames of
 * many streams leave in one socket write.
 */
import type { ByteBuffer } from "./byte_buffer.ts";

/** The 24-octet client connection preface (RFC 9113 3.4). */
export const PREFACE: Uint8Array = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export const FRAME_HEADER_LEN = 9;

/** Frame types (RFC 9113 6). */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

/** Frame flags. */
export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** Error codes (RFC 9113 7). */
export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

/** Settings identifiers (RFC 9113 6.5.2). */
export const Setting = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

export const DEFAULT_WINDOW = 65535;
export const MAX_WINDOW = 0x7fffffff;
export const MIN_MAX_FRAME_SIZE = 16384;
export const MAX_MAX_FRAME_SIZE = 16777215;

/** Append a 9-octet frame header. */
export function writeFrameHeader(
  out: ByteBuffer,
  length: number,
  type: number,
  flags: number,
  streamId: number,
): void {
  const b = out.ensure(FRAME_HEADER_LEN);
  let p = out.len;
  b[p++] = (length >>> 16) & 0xff;
  b[p++] = (length >>> 8) & 0xff;
  b[p++] = length & 0xff;
  b[p++] = type;
  b[p++] = flags;
  b[p++] = (streamId >>> 24) & 0x7f;
  b[p++] = (streamId >>> 16) & 0xff;
  b[p++] = (streamId >>> 8) & 0xff;
  b[p++] = streamId & 0xff;
  out.len = p;
}

/** Append a 32-bit big-endian value. */
export function writeU32(out: ByteBuffer, v: number): void {
  const b = out.ensure(4);
  let p = out.len;
  b[p++] = (v >>> 24) & 0xff;
  b[p++] = (v >>> 16) & 0xff;
  b[p++] = (v >>> 8) & 0xff;
  b[p++] = v & 0xff;
  out.len = p;
}

/** Read a 32-bit big-endian unsigned value. */
export function readU32(b: Uint8Array, p: number): number {
  return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
}

export function writeRstStream(out: ByteBuffer, streamId: number, code: number): void {
  writeFrameHeader(out, 4, FrameType.RST_STREAM, 0, streamId);
  writeU32(out, code);
}

export function writeWindowUpdate(out: ByteBuffer, streamId: number, increment: number): void {
  writeFrameHeader(out, 4, FrameType.WINDOW_UPDATE, 0, streamId);
  writeU32(out, increment);
}

export function writeGoaway(
  out: ByteBuffer,
  lastStreamId: number,
  code: number,
  debug?: string,
): void {
  const dbg = debug === undefined ? "" : debug;
  writeFrameHeader(out, 8 + dbg.length, FrameType.GOAWAY, 0, 0);
  writeU32(out, lastStreamId & 0x7fffffff);
  writeU32(out, code);
  out.ascii(dbg);
}

/** Append a SETTINGS frame with the given (id, value) pairs. */
export function writeSettings(out: ByteBuffer, settings: [number, number][]): void {
  writeFrameHeader(out, settings.length * 6, FrameType.SETTINGS, 0, 0);
  for (const [id, v] of settings) {
    const b = out.ensure(6);
    b[out.len] = (id >>> 8) & 0xff;
    b[out.len + 1] = id & 0xff;
    out.len += 2;
    writeU32(out, v);
  }
}
