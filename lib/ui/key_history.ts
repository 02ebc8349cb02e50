/**
 * A key's history: its versions since it was last created, newest first, found by reading
 * the key at the revision before each version's mod revision. The walk ends at the version
 * that created the key, or where compaction discarded the older revisions (that failure is
 * kept to be shown as the server gave it).
 */
import { type Client, Errors, type KeyValue } from "../client/browser.ts";

/** The versions found and why the walk stopped. */
export interface KeyHistory {
  /** Newest first. */
  versions: KeyValue[];
  /** "created": reached the version that created the key; "more": stopped at `max`. */
  end: "created" | "more" | "compacted";
  /** The compaction error, when `end` is "compacted". */
  error?: unknown;
}

/** Up to `max` versions of the key older than `from` (which is included first). */
export async function keyHistory(
  client: Client,
  from: KeyValue,
  max: number,
): Promise<KeyHistory> {
  const versions = [from];
  let kv = from;
  while (versions.length < max) {
    if (kv.modRevision === kv.createRevision) return { versions, end: "created" };
    try {
      const older = await client.get(kv.key, { revision: kv.modRevision - 1n });
      // the key existed at that revision: it was created before and not deleted since
      if (older === undefined) return { versions, end: "created" };
      versions.push(older);
      kv = older;
    } catch (err) {
      if (Errors.compacted.is(err)) return { versions, end: "compacted", error: err };
      throw err;
    }
  }
  return { versions, end: kv.modRevision === kv.createRevision ? "created" : "more" };
}
