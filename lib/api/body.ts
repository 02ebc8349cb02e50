/**
 * Small helpers for the byte-stream bodies of Connect's universal request and response,
 * shared by the router's fast unary paths and the REST gateway.
 */
import { ChunkBody } from "../http/chunk_body.ts";

/** A body of exactly one chunk (which lib/http writes without iterating). */
export function once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  return new ChunkBody(bytes);
}

/** An empty body. */
export async function* none(): AsyncGenerator<Uint8Array> {}

/** Reads a whole body into one array (the chunk itself when there is only one). */
export async function readAll(body: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    parts.push(chunk);
    size += chunk.length;
  }
  if (parts.length === 1) return parts[0];
  const all = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  return all;
}
