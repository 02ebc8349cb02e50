/**
 * The wait the mutex and election recipes share: until every key under a prefix created
 * before a revision is deleted (clientv3/concurrency's waitDeletes), watching only the
 * newest such key each time so a queue of waiters does not all wake on every release.
 */
import { Event_EventType } from "../../../proto/gen/mvccpb/kv_pb.ts";
import type { Client } from "../client.ts";

/** Waits until no key under `prefix` has a create revision at or below `maxCreateRev`. */
export async function waitDeletes(
  client: Client,
  prefix: string,
  maxCreateRev: bigint,
  signal?: AbortSignal,
): Promise<void> {
  for (;;) {
    const r = await client.range(prefix, {
      prefix: true,
      sort: { target: "create", order: "descend" },
      limit: 1,
      maxCreateRevision: maxCreateRev,
      signal,
    });
    if (r.kvs.length === 0) return;
    await waitDelete(client, r.kvs[0].key, r.header!.revision, signal);
  }
}

async function waitDelete(
  client: Client,
  key: Uint8Array,
  rev: bigint,
  signal?: AbortSignal,
): Promise<void> {
  const w = client.watch(key, { startRevision: rev, signal });
  try {
    for await (const r of w) {
      if (r.events.some((e) => e.type === Event_EventType.DELETE)) return;
    }
    signal?.throwIfAborted();
  } finally {
    w.cancel();
  }
}
