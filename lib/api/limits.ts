/**
 * Request size limits, as etcd's --max-request-bytes: a request larger than the limit plus
 * gRPC's framing allowance is refused with etcd's "request is too large" error instead of
 * being read into memory.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { Errors } from "../base/errors.ts";

/** etcd's default --max-request-bytes: 1.5 MiB. */
export const DEFAULT_MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;

/** The allowance etcd adds on top of --max-request-bytes for gRPC framing (512 KiB). */
export const GRPC_OVERHEAD_BYTES = 512 * 1024;

/** The ConnectError form of etcd's request-too-large error. */
export function requestTooLarge(): ConnectError {
  const e = Errors.requestTooLarge();
  return new ConnectError(e.message, e.code as number as Code);
}

/**
 * Passes `body` through, throwing etcd's request-too-large error as soon as more than
 * `maxBytes` have arrived, so an oversized body is never buffered whole.
 */
export async function* limitBody(
  body: AsyncIterable<Uint8Array>,
  maxBytes: number,
): AsyncGenerator<Uint8Array, void, undefined> {
  let total = 0;
  const it = body[Symbol.asyncIterator]();
  try {
    while (true) {
      let r: IteratorResult<Uint8Array>;
      try {
        r = await it.next();
      } catch (err) {
        // lib/http bounds bodies too; its error becomes etcd's here, where Connect's
        // pipeline would otherwise report an anonymous "internal error".
        if (err instanceof Error && err.name === "BodyTooLargeError") throw requestTooLarge();
        throw err;
      }
      if (r.done) return;
      total += r.value.length;
      if (total > maxBytes) throw requestTooLarge();
      yield r.value;
    }
  } finally {
    await it.return?.();
  }
}

/**
 * Reads a whole body of at most `maxBytes` into one array (the chunk itself when there is only
 * one), with etcd's request-too-large error beyond it: `readAll(limitBody(…))` in one loop,
 * without the two async generators, for the unary paths where it runs on every call.
 */
export async function readLimited(
  body: AsyncIterable<Uint8Array>,
  maxBytes: number,
): Promise<Uint8Array> {
  const it = body[Symbol.asyncIterator]();
  let first: Uint8Array | undefined;
  let parts: Uint8Array[] | undefined;
  let total = 0;
  let done = false;
  try {
    for (;;) {
      let r: IteratorResult<Uint8Array>;
      try {
        r = await it.next();
      } catch (err) {
        if (err instanceof Error && err.name === "BodyTooLargeError") throw requestTooLarge();
        throw err;
      }
      if (r.done) break;
      total += r.value.length;
      if (total > maxBytes) throw requestTooLarge();
      if (first === undefined) first = r.value;
      else (parts ??= [first]).push(r.value);
    }
    done = true;
  } finally {
    if (!done) await it.return?.();
  }
  if (parts === undefined) return first ?? new Uint8Array(0);
  const all = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  return all;
}
