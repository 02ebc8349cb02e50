/**
 * The cluster's membership as the applied log defines it, kept in the backend beside the
 * consistent index (as etcd 3.5+ keeps it in its v3 store: bucket `members`, key the member id
 * in hex, value etcd's member JSON; bucket `members_removed`, key the id, value "removed").
 * Every change is written in the same synchronous step as the entry that made it, so a
 * restart never sees a membership out of step with the rest of the applied state.
 */
import type { Backend } from "../backend/backend.ts";
import type { MemberId } from "../base/types.ts";

/** etcd's bucket names. */
export const MEMBERS_BUCKET = "members";
export const MEMBERS_REMOVED_BUCKET = "members_removed";

/** One member, as MemberList shows it. */
export interface MemberRecord {
  id: MemberId;
  /** Empty until the member published its attributes (it has not started yet). */
  name: string;
  peerURLs: string[];
  /** Empty until the member published its attributes. */
  clientURLs: string[];
  isLearner: boolean;
}

/** A member's description in a conf change's context and in the backend (etcd's JSON). */
interface MemberJson {
  name?: string;
  peerURLs?: string[];
  clientURLs?: string[];
  isLearner?: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function idKey(id: MemberId): Uint8Array {
  return encoder.encode(id.toString(16));
}

/** Encodes a member as etcd's JSON (the id as an exact decimal number). */
export function encodeMember(m: MemberRecord): Uint8Array {
  const rest = JSON.stringify({
    peerURLs: m.peerURLs,
    name: m.name,
    clientURLs: m.clientURLs,
    ...(m.isLearner ? { isLearner: true } : {}),
  });
  return encoder.encode(`{"id":${m.id.toString()},${rest.slice(1)}`);
}

/** Decodes etcd's member JSON; the id comes from the caller (the key or the conf change). */
export function decodeMember(id: MemberId, data: Uint8Array): MemberRecord {
  const j = JSON.parse(decoder.decode(data)) as MemberJson;
  return {
    id,
    name: j.name ?? "",
    peerURLs: j.peerURLs ?? [],
    clientURLs: j.clientURLs ?? [],
    isLearner: j.isLearner === true,
  };
}

/** The membership store over the backend. */
export class Membership {
  readonly #backend: Backend;
  readonly #members = new Map<MemberId, MemberRecord>();
  readonly #removed = new Set<MemberId>();

  constructor(backend: Backend) {
    this.#backend = backend;
    const w = backend.write;
    w.createBucket(MEMBERS_BUCKET);
    w.createBucket(MEMBERS_REMOVED_BUCKET);
    const r = backend.read;
    r.range(MEMBERS_BUCKET, new Uint8Array(0), undefined, (k, v) => {
      const id = BigInt("0x" + decoder.decode(k));
      this.#members.set(id, decodeMember(id, v));
    });
    r.range(MEMBERS_REMOVED_BUCKET, new Uint8Array(0), undefined, (k) => {
      this.#removed.add(BigInt("0x" + decoder.decode(k)));
    });
  }

  /** True when the backend holds no membership yet (a new store, or one made before it did). */
  get empty(): boolean {
    return this.#members.size === 0 && this.#removed.size === 0;
  }

  /** Every member, by id. */
  list(): MemberRecord[] {
    return [...this.#members.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  get(id: MemberId): MemberRecord | undefined {
    return this.#members.get(id);
  }

  has(id: MemberId): boolean {
    return this.#members.has(id);
  }

  /** True once any member was removed: the cluster was larger than it may be now. */
  get anyRemoved(): boolean {
    return this.#removed.size > 0;
  }

  /** True when `id` was a member and was removed (it may never come back under that id). */
  isRemoved(id: MemberId): boolean {
    return this.#removed.has(id);
  }

  /** Adds (or replaces) a member. */
  add(m: MemberRecord): void {
    this.#members.set(m.id, m);
    this.#backend.write.put(MEMBERS_BUCKET, idKey(m.id), encodeMember(m));
  }

  /** Removes a member for good. */
  remove(id: MemberId): void {
    this.#members.delete(id);
    this.#removed.add(id);
    this.#backend.write.delete(MEMBERS_BUCKET, idKey(id));
    this.#backend.write.put(MEMBERS_REMOVED_BUCKET, idKey(id), encoder.encode("removed"));
  }

  /** Records the name and client URLs a member published when it started. */
  setAttributes(id: MemberId, name: string, clientURLs: string[]): void {
    const m = this.#members.get(id);
    if (m === undefined) return; // removed since it published: nothing to record
    this.add({ ...m, name, clientURLs });
  }
}

/** Legacy raft snapshot data: the membership, before it moved into the backend. */
interface LegacySnapshotData {
  members: { id: string; name: string; peerURLs: string[]; clientURLs: string[] }[];
}

/**
 * Data dirs made before the membership moved into the backend kept it as JSON in the raft
 * snapshot's data: an empty membership takes it from there once.
 */
export function importLegacyMembership(ms: Membership, data: Uint8Array | null): void {
  if (!ms.empty || data === null || data.length === 0) return;
  const legacy = JSON.parse(new TextDecoder().decode(data)) as LegacySnapshotData;
  for (const m of legacy.members) {
    ms.add({
      id: BigInt(m.id),
      name: m.name,
      peerURLs: m.peerURLs,
      clientURLs: m.clientURLs,
      isLearner: false,
    });
  }
}
