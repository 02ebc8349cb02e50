/**
 * Merges a leader's consecutive appends to one follower within a Ready into one message, and a
 * follower's consecutive forwarded proposals likewise.
 *
 * raft sends an App per follower for every proposal it appends and for every acknowledgement
 * that moves the commit index (an empty App carrying the new commit). Under load a Ready then
 * holds dozens of small Apps per follower, each of which the follower steps, stores and
 * answers with an AppResp the leader steps in turn. Sending them as one App (the entries
 * concatenated, the latest commit index) tells the follower exactly what the sequence would,
 * costs one step, one answer and one frame, and changes nothing raft tracks: the leader's
 * progress already counts every entry as sent, and the one answer for the last index frees
 * every in-flight slot up to it (inflights.freeLE). A follower forwards a Prop per client
 * request; the leader takes a Prop of several entries as it takes several Props (it appends
 * them in order; it drops them together where it would have dropped each, as when it has too
 * much uncommitted, and the follower's waiters time out in either case).
 */
import { type Message, MessageType } from "./messages.ts";
import { payloadSize } from "./storage.ts";

/**
 * `messages` with every App merged into the App before it when that is the previous message
 * to the same follower, in the same term, and continues it exactly (its `index` is the last
 * index the earlier one carried, its `logTerm` that entry's term), and every Prop into the
 * Prop before it when that is the previous message to the same node; within `maxBytes` of
 * entry data (raft's max message size; a message that alone exceeds it is left as it is).
 * Other messages keep their order; the input and its messages are not modified. Returns
 * `messages` itself when nothing merged.
 */
export function coalesce(messages: Message[], maxBytes: number): Message[] {
  if (messages.length < 2) return messages;
  let out: Message[] | null = null;
  /** Per follower: where its last message is (in `out`, or in `messages` while out is null). */
  const last = new Map<bigint, Tail>();
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    const tail = last.get(m.to);
    if (tail !== undefined && (m.type === MessageType.App || m.type === MessageType.Prop)) {
      const prev = out === null ? messages[tail.at] : out[tail.at];
      if (tail.bytes < 0) tail.bytes = payloadSize(prev.entries);
      const bytes = m.entries.length === 0 ? 0 : payloadSize(m.entries);
      if (continues(prev, m) && (bytes === 0 || tail.bytes + bytes <= maxBytes)) {
        if (out === null) out = messages.slice(0, i);
        if (tail.merged === null) {
          // our own copy, so later merges append in place (the input stays untouched)
          tail.merged = { ...prev, entries: prev.entries.slice() };
          out[tail.at] = tail.merged;
        }
        const into = tail.merged;
        for (let k = 0; k < m.entries.length; k++) into.entries.push(m.entries[k]);
        if (m.commit > into.commit) into.commit = m.commit;
        tail.bytes += bytes;
        continue;
      }
    }
    const at = out === null ? i : out.push(m) - 1;
    if (tail === undefined) last.set(m.to, { at, bytes: -1, merged: null });
    else {
      tail.at = at;
      tail.bytes = -1;
      tail.merged = null;
    }
  }
  return out ?? messages;
}

/**
 * A follower's last message so far, its entries' data size (-1: not counted yet), and the
 * message merged into that place (null while it is still the input's own).
 */
interface Tail {
  at: number;
  bytes: number;
  merged: Message | null;
}

function lastIndex(m: Message): number {
  return m.index + m.entries.length;
}

function lastTerm(m: Message): number {
  return m.entries.length > 0 ? m.entries[m.entries.length - 1].term : m.logTerm;
}

function continues(prev: Message, m: Message): boolean {
  if (prev.type !== m.type || prev.term !== m.term || prev.from !== m.from) return false;
  if (m.type === MessageType.Prop) return true;
  return m.index === lastIndex(prev) && m.logTerm === lastTerm(prev);
}
