/** The watch requests and responses as the logic layer sees them (etcdserverpb mirrors). */

import type { Event } from "./types.ts";

/** WatchCreateRequest.FilterType. */
export enum WatchFilter {
  NOPUT = 0,
  NODELETE = 1,
}

/** etcdserverpb.WatchCreateRequest. */
export interface WatchCreateRequest {
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  /** 0 = from the next revision; a compacted revision yields a compacted response. */
  startRevision?: number;
  progressNotify?: boolean;
  filters?: WatchFilter[];
  prevKv?: boolean;
  /** 0 = let the stream choose. */
  watchId?: number;
  /** Carried for the API layer, which splits large responses with `fragmentResponse`. */
  fragment?: boolean;
}

/**
 * etcdserverpb.WatchResponse without the header ids: `revision` is the header's revision.
 * A progress notification has no events; watchId -1 marks a stream-wide one.
 */
export interface WatchResponse {
  watchId: number;
  revision: number;
  events: Event[];
  created: boolean;
  canceled: boolean;
  cancelReason: string;
  compactRevision: number;
  fragment: boolean;
}

/** The watch id etcd uses for a stream-wide progress notification (clientv3.InvalidWatchID). */
export const PROGRESS_ALL_WATCH_ID = -1;

/** A response with etcd's defaults for every field not given. */
export function watchResponse(p: Partial<WatchResponse> & { watchId: number }): WatchResponse {
  return {
    watchId: p.watchId,
    revision: p.revision ?? 0,
    events: p.events ?? [],
    created: p.created ?? false,
    canceled: p.canceled ?? false,
    cancelReason: p.cancelReason ?? "",
    compactRevision: p.compactRevision ?? 0,
    fragment: p.fragment ?? false,
  };
}

/** A response carrying events (the hot path: no option object). */
export function eventsResponse(watchId: number, revision: number, events: Event[]): WatchResponse {
  return {
    watchId,
    revision,
    events,
    created: false,
    canceled: false,
    cancelReason: "",
    compactRevision: 0,
    fragment: false,
  };
}
