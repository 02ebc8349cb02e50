/**
 * Splitting a large watch response into fragments, as etcd's watch server does for a watch
 * created with `fragment: true` (v3rpc sendFragments): when the encoded response reaches the
 * request size limit and holds at least two events, events go out in consecutive responses
 * with `fragment` set on all but the last, each under the limit unless a single event alone
 * exceeds it. Sizes are the exact protobuf sizes etcd computes.
 */

import { varintSize } from "../base/varint.ts";
import { encodeKeyValue } from "./kv_codec.ts";
import type { Event } from "./types.ts";
import type { WatchResponse } from "./watch_types.ts";

/** Encoded size of an mvccpb.Event. */
export function eventSize(e: Event): number {
  let n = 0;
  if (e.type !== 0) n += 2;
  const kv = encodeKeyValue(e.kv).length;
  n += 1 + varintSize(kv) + kv;
  if (e.prevKv) {
    const p = encodeKeyValue(e.prevKv).length;
    n += 1 + varintSize(p) + p;
  }
  return n;
}

/**
 * Encoded size of a WatchResponse whose header encodes to `headerBytes` bytes, given the
 * summed size of its event fields (`eventBytes`, each 1 + len + payload).
 */
export function watchResponseSize(
  r: WatchResponse,
  headerBytes: number,
  eventBytes: number,
): number {
  let n = 1 + varintSize(headerBytes) + headerBytes;
  if (r.watchId !== 0) n += 1 + varintSize(r.watchId);
  if (r.created) n += 2;
  if (r.canceled) n += 2;
  if (r.compactRevision !== 0) n += 1 + varintSize(r.compactRevision);
  if (r.cancelReason.length) {
    const b = new TextEncoder().encode(r.cancelReason).length;
    n += 1 + varintSize(b) + b;
  }
  if (r.fragment) n += 2;
  return n + eventBytes;
}

/**
 * The responses to send for `r` under `maxBytes` (etcd's --max-request-bytes), with
 * `headerBytes` the size of the response header the server will attach.
 */
export function fragmentResponse(
  r: WatchResponse,
  maxBytes: number,
  headerBytes: number,
): WatchResponse[] {
  const sizes = r.events.map((e) => {
    const s = eventSize(e);
    return 1 + varintSize(s) + s;
  });
  const total = sizes.reduce((a, b) => a + b, 0);
  if (watchResponseSize(r, headerBytes, total) < maxBytes || r.events.length < 2) return [r];
  const out: WatchResponse[] = [];
  let idx = 0;
  for (;;) {
    const cur: WatchResponse = { ...r, events: [], fragment: true };
    let bytes = 0;
    for (let i = idx; i < r.events.length; i++) {
      cur.events.push(r.events[i]);
      bytes += sizes[i];
      if (cur.events.length > 1 && watchResponseSize(cur, headerBytes, bytes) >= maxBytes) {
        cur.events.pop();
        break;
      }
      idx++;
    }
    if (idx === r.events.length) cur.fragment = false;
    out.push(cur);
    if (!cur.fragment) return out;
  }
}
