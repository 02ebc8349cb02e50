/**
 * Keys and values as callers give them: text (UTF-8 encoded) or raw bytes, since etcd keys
 * are byte strings. The helpers turn them into the bytes the wire carries and back.
 */
import { prefixEnd } from "../base/bytes.ts";

/** A key or value: a string (sent as UTF-8) or bytes. */
export type Bytes = string | Uint8Array;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The wire bytes of a key or value. */
export function toBytes(b: Bytes): Uint8Array {
  return typeof b === "string" ? enc.encode(b) : b;
}

/** Bytes decoded as UTF-8 text (what `KeyValue.key`/`value` hold, as a string). */
export function text(b: Uint8Array): string {
  return dec.decode(b);
}

/** The range end selecting every key that starts with `prefix` (etcd's WithPrefix). */
export function rangeEndOfPrefix(prefix: Bytes): Uint8Array {
  return prefixEnd(toBytes(prefix));
}

/** The range end meaning "every key from the start key on" (etcd's WithFromKey). */
export const FROM_KEY: Uint8Array = new Uint8Array([0]);
