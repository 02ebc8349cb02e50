/**
 * One key's revision history (etcd's keyIndex), packed for memory. etcd keeps per key a list
 * of generations (created revision, version count, revisions; a tombstone ends a generation
 * and starts an empty one). Here that is either:
 *
 * - a number `m`: the common case of one live generation holding the single revision
 *   {m, 0}, created at m, version 1 (costs nothing beyond the slot that holds it); or
 * - a flat number array of generations, each `[ver, createdMain, n, main0, sub0, ...]`,
 *   the last generation possibly empty (n = 0) after a tombstone.
 *
 * All functions are pure over this representation; the tree index stores the result.
 */

/** A key's history as stored in the index. */
export type History = number | number[];

/** Output slot for lookups, reused to avoid an allocation per key in range scans. */
export interface RevAt {
  main: number;
  sub: number;
  created: number;
  ver: number;
}

/** A fresh output slot. */
export function newRevAt(): RevAt {
  return { main: 0, sub: 0, created: 0, ver: 0 };
}

function toArray(h: History): number[] {
  return typeof h === "number" ? [1, h, 1, h, 0] : h;
}

/** Offset of the last generation in a packed array. */
function lastGenOffset(a: number[]): number {
  let off = 0;
  for (;;) {
    const next = off + 3 + 2 * a[off + 2];
    if (next >= a.length) return off;
    off = next;
  }
}

/** Offsets of all generations. */
function genOffsets(a: number[]): number[] {
  const offs: number[] = [];
  let off = 0;
  while (off < a.length) {
    offs.push(off);
    off += 3 + 2 * a[off + 2];
  }
  return offs;
}

/** Shrinks an array history back to the single-number form when it qualifies. */
function pack(a: number[]): History {
  if (a.length === 5 && a[0] === 1 && a[2] === 1 && a[4] === 0 && a[1] === a[3]) return a[3];
  return a;
}

/**
 * The revision of the key visible at `atRev` (etcd keyIndex.get): fills `out` and returns
 * true, or returns false when the key did not exist at `atRev`.
 */
export function historyGet(h: History, atRev: number, out: RevAt): boolean {
  if (typeof h === "number") {
    if (h > atRev) return false;
    out.main = h;
    out.sub = 0;
    out.created = h;
    out.ver = 1;
    return true;
  }
  // The generation holding atRev is the last non-empty one whose first revision is at or
  // before atRev (later ones all start after it), as etcd's findGeneration finds walking back.
  let cand = -1;
  let off = 0;
  const len = h.length;
  while (off < len) {
    const n = h[off + 2];
    if (n !== 0 && h[off + 3] <= atRev) cand = off;
    off += 3 + 2 * n;
  }
  if (cand < 0) return false;
  const n = h[cand + 2];
  const isLast = cand + 3 + 2 * n >= len;
  if (!isLast && h[cand + 3 + 2 * (n - 1)] <= atRev) return false; // deleted by atRev
  for (let i = n - 1; i >= 0; i--) {
    const m = h[cand + 3 + 2 * i];
    if (m <= atRev) {
      out.main = m;
      out.sub = h[cand + 4 + 2 * i];
      out.created = h[cand + 1];
      out.ver = h[cand] - (n - 1 - i);
      return true;
    }
  }
  return false;
}

/** True when the key is live now (its last generation is not empty). */
export function historyLive(h: History): boolean {
  if (typeof h === "number") return true;
  return h[lastGenOffset(h) + 2] !== 0;
}

/** Appends a put at {main, sub} (etcd keyIndex.put); `h` undefined for a new key. */
export function historyPut(h: History | undefined, main: number, sub: number): History {
  if (h === undefined) return sub === 0 ? main : [1, main, 1, main, sub];
  const a = toArray(h);
  const off = lastGenOffset(a);
  if (a[off + 2] === 0) a[off + 1] = main;
  a.push(main, sub);
  a[off]++;
  a[off + 2]++;
  return a;
}

/**
 * Appends a tombstone (etcd keyIndex.tombstone): the deletion revision ends the current
 * generation and an empty one begins. Returns undefined when the key is not live.
 */
export function historyTombstone(h: History, main: number, sub: number): History | undefined {
  if (!historyLive(h)) return undefined;
  const a = historyPut(h, main, sub) as number[];
  a.push(0, 0, 0);
  return a;
}

/**
 * A history restored from a tombstone that is the only stored revision of its key (etcd's
 * restoreTombstone: compaction kept the deletion at the compacted revision).
 */
export function historyRestoreTombstone(main: number, sub: number): History {
  return [1, 0, 1, main, sub, 0, 0, 0];
}

/** A history restored from a stored value (etcd keyIndex.restore). */
export function historyRestore(created: number, main: number, sub: number, ver: number): History {
  if (sub === 0 && ver === 1 && created === main) return main;
  return [ver, created, 1, main, sub];
}

/**
 * etcd's doCompact: the generation that survives compaction at `atRev` (the first whose
 * tombstone is at or after atRev, else the last) and, in it, the index of the newest revision
 * at or before atRev (-1 if none). A tombstone exactly at atRev is kept, so a watcher starting
 * at the compacted revision still sees that deletion (etcd PR #18274, in 3.4 and 3.5 since
 * mid-2024; before it, etcd dropped such a tombstone).
 */
function doCompact(a: number[], atRev: number): { offs: number[]; gi: number; ri: number } {
  const offs = genOffsets(a);
  let gi = 0;
  while (gi < offs.length - 1) {
    const off = offs[gi];
    const n = a[off + 2];
    if (a[off + 3 + 2 * (n - 1)] >= atRev) break;
    gi++;
  }
  const off = offs[gi];
  const n = a[off + 2];
  let ri = -1;
  for (let i = n - 1; i >= 0; i--) {
    if (a[off + 3 + 2 * i] <= atRev) {
      ri = i;
      break;
    }
  }
  return { offs, gi, ri };
}

/**
 * Compacts the history at `atRev` (etcd keyIndex.compact): drops generations wholly before
 * atRev and, in the surviving generation, every revision older than the newest one at or
 * before atRev. Returns undefined when nothing is left (the key leaves the index).
 */
export function historyCompact(h: History, atRev: number): History | undefined {
  if (typeof h === "number") return h;
  const { offs, gi, ri } = doCompact(h, atRev);
  const off = offs[gi];
  const n = h[off + 2];
  const out: number[] = [];
  const skipRevs = n !== 0 && ri !== -1 ? ri : 0;
  for (let g = gi; g < offs.length; g++) {
    const o = offs[g];
    const cnt = h[o + 2];
    const skip = g === gi ? skipRevs : 0;
    out.push(h[o], h[o + 1], cnt - skip);
    for (let i = skip; i < cnt; i++) out.push(h[o + 3 + 2 * i], h[o + 4 + 2 * i]);
  }
  if (out.length === 3 && out[2] === 0) return undefined; // one empty generation: gone
  return pack(out);
}

/**
 * The revision etcd's keyIndex.keep would mark as available when compacting at `atRev`:
 * fills `out.main/out.sub` and returns true, or false when none survives.
 */
export function historyKeep(h: History, atRev: number, out: RevAt): boolean {
  if (typeof h === "number") {
    if (h > atRev) return false;
    out.main = h;
    out.sub = 0;
    return true;
  }
  const { offs, gi, ri } = doCompact(h, atRev);
  if (ri === -1) return false;
  const off = offs[gi];
  const n = h[off + 2];
  // A tombstone is left out (as etcd's keep does, so hashes match its older versions).
  if (ri === n - 1 && gi !== offs.length - 1) return false;
  out.main = h[off + 3 + 2 * ri];
  out.sub = h[off + 4 + 2 * ri];
  return true;
}

/** True when {main, sub} is one of the revisions in the history. */
export function historyHas(h: History, main: number, sub: number): boolean {
  if (typeof h === "number") return h === main && sub === 0;
  for (let off = 0; off < h.length;) {
    const n = h[off + 2];
    for (let i = 0; i < n; i++) {
      if (h[off + 3 + 2 * i] === main && h[off + 4 + 2 * i] === sub) return true;
    }
    off += 3 + 2 * n;
  }
  return false;
}
