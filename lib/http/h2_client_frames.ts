/**
 * What the HTTP/2 client reads out of a server's frames, checked against RFC 9113: payload
 * layouts (padding, priority, SETTINGS pairs, GOAWAY), setting ranges, and the fields of a
 * response head or trailers. Pure functions; a violation is thrown as the error the session
 * answers with: {@link ConnectionError} (GOAWAY) or {@link StreamError} (RST_STREAM).
 */
import {
  ErrorCode,
  Flag,
  MAX_MAX_FRAME_SIZE,
  MAX_WINDOW,
  MIN_MAX_FRAME_SIZE,
  readU32,
  Setting,
} from "./frame.ts";

/** A failure that ends the whole connection (GOAWAY with `code`). */
export class ConnectionError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/** A failure of one stream (RST_STREAM with `code`). */
export class StreamError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/** The data of a DATA frame, padding removed. */
export function dataPayload(flags: number, payload: Uint8Array): Uint8Array {
  if ((flags & Flag.PADDED) === 0) return payload;
  if (payload.length < 1 || payload[0] >= payload.length) {
    throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "DATA padding exceeds the payload");
  }
  return payload.subarray(1, payload.length - payload[0]);
}

/** The header block fragment of a HEADERS frame, padding and priority removed. */
export function headerFragment(flags: number, payload: Uint8Array): Uint8Array {
  let p = 0;
  let end = payload.length;
  if (flags & Flag.PADDED) {
    if (payload.length < 1) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "HEADERS padding");
    end -= payload[0];
    p = 1;
  }
  if (flags & Flag.PRIORITY) p += 5;
  if (end < p) {
    throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "HEADERS padding exceeds the payload");
  }
  return payload.subarray(p, end);
}

/** The (id, value) pairs of a SETTINGS frame, each value checked against its range. */
export function parseSettings(payload: Uint8Array): [number, number][] {
  if (payload.length % 6 !== 0) {
    throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS length");
  }
  const out: [number, number][] = [];
  for (let i = 0; i < payload.length; i += 6) {
    const key = (payload[i] << 8) | payload[i + 1];
    const v = readU32(payload, i + 2);
    if (key === Setting.ENABLE_PUSH && v > 1) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "ENABLE_PUSH must be 0 or 1");
    }
    if (key === Setting.INITIAL_WINDOW_SIZE && v > MAX_WINDOW) {
      throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE too large");
    }
    if (key === Setting.MAX_FRAME_SIZE && (v < MIN_MAX_FRAME_SIZE || v > MAX_MAX_FRAME_SIZE)) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "MAX_FRAME_SIZE out of range");
    }
    out.push([key, v]);
  }
  return out;
}

/** A GOAWAY frame's last-stream-id, error code and debug text. */
export function parseGoaway(payload: Uint8Array): { last: number; code: number; debug: string } {
  if (payload.length < 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "GOAWAY length");
  return {
    last: readU32(payload, 0) & 0x7fffffff,
    code: readU32(payload, 4),
    debug: new TextDecoder().decode(payload.subarray(8)),
  };
}

/** The 32-bit value of a RST_STREAM or WINDOW_UPDATE frame (which must be exactly 4 octets). */
export function u32Payload(payload: Uint8Array, what: string): number {
  if (payload.length !== 4) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `${what} length`);
  return readU32(payload, 0);
}

/**
 * A response head from decoded fields (flat name, value list): its status and regular
 * fields. Exactly one valid :status must come first; 101 has no place in HTTP/2.
 */
export function parseResponseHead(
  fields: string[],
): { status: number; headers: [string, string][] } {
  let status = -1;
  const headers: [string, string][] = [];
  for (let i = 0; i < fields.length; i += 2) {
    const n = fields[i];
    if (n.charCodeAt(0) === 58) {
      if (n !== ":status" || status !== -1 || headers.length > 0) {
        throw new StreamError(
          ErrorCode.PROTOCOL_ERROR,
          `unexpected pseudo-header ${n} in a response`,
        );
      }
      const v = fields[i + 1];
      status = /^[1-9][0-9][0-9]$/.test(v) ? Number(v) : -2;
    } else headers.push([n, fields[i + 1]]);
  }
  if (status < 0 || status === 101) {
    throw new StreamError(ErrorCode.PROTOCOL_ERROR, "response without a valid :status");
  }
  return { status, headers };
}

/** Trailer fields (no pseudo-headers allowed). */
export function parseTrailers(fields: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i].charCodeAt(0) === 58) {
      throw new StreamError(ErrorCode.PROTOCOL_ERROR, "pseudo-header in trailers");
    }
    out.push([fields[i], fields[i + 1]]);
  }
  return out;
}
