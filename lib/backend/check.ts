/**
 * The consistency check: walks every page reachable from a snapshot and reports what is wrong
 * (bad checksum, wrong page type, keys out of order or outside their parent's range, uneven
 * leaf depth, a page reached twice, a page both reachable and free, a page neither).
 */
import { CorruptionError } from "./errors.ts";
import type { Meta } from "./meta.ts";
import {
  BRANCH,
  BUCKET_FLAG,
  compareBytes,
  elemChild,
  elemFlags,
  elemKey,
  elemValue,
  FREELIST,
  LEAF,
  PAGE_HEADER,
  pageCount,
  pageFlags,
  pageOverflow,
  typeName,
  u32,
} from "./page.ts";
import type { PageSource } from "./pager.ts";

const MAX_PROBLEMS = 100;

/** Checks the snapshot `meta`; returns the problems found (at most 100), empty when sound. */
export function checkTree(src: PageSource, meta: Meta): string[] {
  const problems: string[] = [];
  const report = (msg: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push(msg);
  };
  const owner = new Map<number, number>(); // page id -> first id of the span holding it
  const claim = (id: number, span: number): boolean => {
    for (let i = id; i < id + span; i++) {
      if (i >= meta.hwm) {
        report(`page ${id}: spans past the high-water mark ${meta.hwm}`);
        return false;
      }
      if (owner.has(i)) {
        report(`page ${i}: reached twice (a cycle or shared page; first via page ${owner.get(i)})`);
        return false;
      }
    }
    for (let i = id; i < id + span; i++) owner.set(i, id);
    return true;
  };
  const load = (id: number): Uint8Array | null => {
    try {
      return src.page(id);
    } catch (err) {
      report(err instanceof CorruptionError ? err.message : `page ${id}: ${String(err)}`);
      return null;
    }
  };
  claim(0, 1);
  claim(1, 1);

  // The freelist of this snapshot.
  const free = new Set<number>();
  const fl = load(meta.freelist);
  if (fl) {
    if (pageFlags(fl) !== FREELIST) {
      report(`page ${meta.freelist}: expected freelist, found ${typeName(pageFlags(fl))}`);
    } else {
      claim(meta.freelist, pageOverflow(fl) + 1);
      const n = u32(fl, PAGE_HEADER);
      for (let i = 0; i < n; i++) free.add(u32(fl, PAGE_HEADER + 4 + 4 * i));
    }
  }

  const walkBucket = (root: number, path: string, depth: number) => {
    if (depth > 64) {
      report(`bucket ${path}: nested too deeply (a cycle?)`);
      return;
    }
    let leafDepth = -1;
    const walk = (
      id: number,
      lower: Uint8Array | null,
      upper: Uint8Array | null,
      level: number,
      isRoot: boolean,
    ) => {
      if (level > 64) {
        report(`page ${id}: tree deeper than 64 levels (a cycle?)`);
        return;
      }
      const p = load(id);
      if (!p) return;
      const type = pageFlags(p);
      if (type !== BRANCH && type !== LEAF) {
        report(`page ${id}: expected branch or leaf in bucket ${path}, found ${typeName(type)}`);
        return;
      }
      if (!claim(id, pageOverflow(p) + 1)) return;
      const n = pageCount(p);
      if (n === 0 && !(isRoot && type === LEAF)) report(`page ${id}: empty ${typeName(type)} page`);
      let prev: Uint8Array | null = null;
      for (let i = 0; i < n; i++) {
        const k = elemKey(p, i);
        if (prev && compareBytes(prev, k) >= 0) report(`page ${id}: key ${i} out of order`);
        if (type === LEAF || i > 0) {
          if (lower && compareBytes(k, lower) < 0) {
            report(`page ${id}: key ${i} below its parent's bound`);
          }
        }
        if (upper && compareBytes(k, upper) >= 0) {
          report(`page ${id}: key ${i} at or above its parent's bound`);
        }
        prev = k;
      }
      if (type === LEAF) {
        if (leafDepth < 0) leafDepth = level;
        else if (leafDepth !== level) {
          report(`page ${id}: leaf at depth ${level}, others at ${leafDepth}`);
        }
        for (let i = 0; i < n; i++) {
          if (!(elemFlags(p, i) & BUCKET_FLAG)) continue;
          const v = elemValue(p, i);
          const name = new TextDecoder().decode(elemKey(p, i));
          if (v.length !== 8) {
            report(`page ${id}: nested bucket ${name} has a ${v.length}-byte header`);
            continue;
          }
          walkBucket(u32(v, 0), path === "" ? name : `${path}/${name}`, depth + 1);
        }
        return;
      }
      for (let i = 0; i < n; i++) {
        const lo = i === 0 ? lower : elemKey(p, i);
        const hi = i + 1 < n ? elemKey(p, i + 1) : upper;
        walk(elemChild(p, i), lo, hi, level + 1, false);
      }
    };
    walk(root, null, null, 1, true);
  };
  walkBucket(meta.root, "", 0);

  for (let id = 2; id < meta.hwm; id++) {
    const reachable = owner.has(id);
    const isFree = free.has(id);
    if (reachable && isFree) report(`page ${id}: both reachable and free`);
    else if (!reachable && !isFree) report(`page ${id}: leaked (neither reachable nor free)`);
  }
  for (const id of free) {
    if (id < 2 || id >= meta.hwm) report(`page ${id}: freelist entry outside 2..${meta.hwm - 1}`);
  }
  return problems;
}
