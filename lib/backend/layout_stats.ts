/**
 * A census of where a page file's bytes go: for every bucket's tree, how many branch and leaf
 * pages it holds, how many leaves span several pages, how full the leaves are, and the key and
 * value bytes inside; for the file, the meta, freelist and free pages. It reads one snapshot
 * (a transaction's), so it can run beside writes; it walks every page of the tree, so it is
 * for tools and tests, not for request paths. bench/page_stats.ts prints it for a file.
 */
import { CorruptionError } from "./errors.ts";
import type { Meta } from "./meta.ts";
import { MAX_DEPTH, treePage } from "./cursor.ts";
import {
  BRANCH,
  BUCKET_FLAG,
  elemChild,
  elemFlags,
  elemKey,
  elemKsize,
  elemValue,
  elemVsize,
  PAGE_HEADER,
  pageCount,
  pageFlags,
  pageOverflow,
  pageUsed,
  u32,
} from "./page.ts";
import type { PageSource } from "./pager.ts";

/** Leaf fill classes: the share of a leaf's span in use, in tenths (index 9 holds 90-100 %). */
export const FILL_CLASSES = 10;

/** What one bucket's tree is made of. */
export interface TreeStats {
  /** The bucket's path of names joined by "/" ("" for the root bucket). */
  name: string;
  depth: number;
  branches: number;
  /** Pages of branch spans (a branch spanning 2 pages counts 2). */
  branchPages: number;
  leaves: number;
  /** Pages of leaf spans. */
  leafPages: number;
  /** Leaves whose span has more than one page. */
  multiPageLeaves: number;
  /** Leaves holding a single element. */
  singleElementLeaves: number;
  /** Elements in leaves (keys, nested bucket names included). */
  elements: number;
  keyBytes: number;
  valueBytes: number;
  /** Bytes of page headers and element headers in leaves and branches. */
  headerBytes: number;
  /** Bytes of separator keys in branches. */
  branchKeyBytes: number;
  /** Bytes in use over all spans of this tree (the `used` header field summed). */
  usedBytes: number;
  /** Leaves per fill class (used bytes / span bytes, in tenths). */
  leafFill: number[];
  /** Leaves per span length in pages. */
  leafSpans: Map<number, number>;
}

/** The whole file. */
export interface LayoutStats {
  pageSize: number;
  /** Pages below the high-water mark (the file's pages in use or free). */
  pages: number;
  /** Pages of the freelist's own span. */
  freelistPages: number;
  /** Free or pending pages named by the freelist. */
  freePages: number;
  /** One entry per bucket tree, the root bucket's first. */
  trees: TreeStats[];
}

function newTree(name: string): TreeStats {
  return {
    name,
    depth: 0,
    branches: 0,
    branchPages: 0,
    leaves: 0,
    leafPages: 0,
    multiPageLeaves: 0,
    singleElementLeaves: 0,
    elements: 0,
    keyBytes: 0,
    valueBytes: 0,
    headerBytes: 0,
    branchKeyBytes: 0,
    usedBytes: 0,
    leafFill: new Array<number>(FILL_CLASSES).fill(0),
    leafSpans: new Map(),
  };
}

const latin1 = (b: Uint8Array) => String.fromCharCode(...b);

/** Counts the pages of snapshot `meta` read through `src`. */
export function layoutStats(src: PageSource, meta: Meta): LayoutStats {
  const ps = src.pageSize;
  const fl = src.page(meta.freelist);
  const trees: TreeStats[] = [];
  const walkTree = (root: number, name: string, nesting: number): void => {
    if (nesting > MAX_DEPTH) throw new CorruptionError(root, "buckets nested too deeply");
    const t = newTree(name);
    trees.push(t);
    const nested: { root: number; name: string }[] = [];
    const visit = (id: number, depth: number): void => {
      if (depth > MAX_DEPTH) throw new CorruptionError(id, "tree too deep (a cycle?)");
      const p = treePage(src, id);
      const span = pageOverflow(p) + 1;
      const count = pageCount(p);
      t.depth = Math.max(t.depth, depth);
      t.usedBytes += pageUsed(p);
      t.headerBytes += PAGE_HEADER + 12 * count;
      if (pageFlags(p) === BRANCH) {
        t.branches++;
        t.branchPages += span;
        for (let i = 0; i < count; i++) {
          t.branchKeyBytes += elemKsize(p, i);
          visit(elemChild(p, i), depth + 1);
        }
        return;
      }
      t.leaves++;
      t.leafPages += span;
      if (span > 1) t.multiPageLeaves++;
      if (count === 1) t.singleElementLeaves++;
      t.leafSpans.set(span, (t.leafSpans.get(span) ?? 0) + 1);
      const fill = Math.min(FILL_CLASSES - 1, Math.floor(pageUsed(p) / (span * ps) * FILL_CLASSES));
      t.leafFill[fill]++;
      t.elements += count;
      for (let i = 0; i < count; i++) {
        t.keyBytes += elemKsize(p, i);
        t.valueBytes += elemVsize(p, i);
        if (elemFlags(p, i) & BUCKET_FLAG) {
          const key = latin1(elemKey(p, i));
          nested.push({ root: u32(elemValue(p, i), 0), name: name ? `${name}/${key}` : key });
        }
      }
    };
    visit(root, 1);
    for (const b of nested) walkTree(b.root, b.name, nesting + 1);
  };
  walkTree(meta.root, "", 0);
  return {
    pageSize: ps,
    pages: meta.hwm,
    freelistPages: pageOverflow(fl) + 1,
    freePages: u32(fl, PAGE_HEADER),
    trees,
  };
}
