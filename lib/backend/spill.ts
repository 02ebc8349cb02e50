/**
 * The spill: how a write transaction's edited nodes become new pages at commit. First the
 * tree is rebalanced (a node under a quarter page or a leaf left with one element is merged
 * into a sibling, an emptied node disappears, a root branch with one child gives way to the
 * child), then every edited node is cut into pieces, each piece gets a freshly allocated page
 * span, and the parents are rewritten to point at the pieces, up to a new root.
 *
 * How a node is cut decides the file's size (docs/perf.md, "Disk footprint"):
 * - The rightmost node of a tree (the one appends land in: MVCC revision keys, a defrag's
 *   copy) is cut into full pages, the remainder last; appends never come back to the full
 *   ones. Any other node is cut into pieces of about equal size, leaving room for inserts.
 * - Elements bigger than a quarter of a page leave much of a page unused: three 1 KiB values
 *   with their headers fill 79 % of one, and a 4 KiB value alone needs 2 pages, half empty. A
 *   piece that starts with such an element packs it with its successors into one span of up
 *   to `MAX_PACKED_SPAN` pages (or two elements, whatever their size): the count that fills
 *   its span best, a longer span only when it fills better by `PACK_GAIN`. Fifteen 1 KiB
 *   values share 4 pages (99 %), three 4 KiB values 4 (76 %), two 9,000-byte values 5.
 * The file format does not change: any leaf or branch may span several pages.
 */
import { Node } from "./node.ts";
import { PAGE_HEADER } from "./page.ts";

/** Most pages a piece packing big elements spans, unless two elements alone need more. */
export const MAX_PACKED_SPAN = 4;
/** A longer packed piece is chosen only when it fills its span better by this much. */
const PACK_GAIN = 0.05;

/** What the spill needs from its transaction. */
export interface SpillContext {
  readonly pageSize: number;
  /** Materializes page `id` as a node (its page becomes free at commit). */
  materialize(id: number): Node;
  /** Allocates `span` contiguous pages and returns the first id. */
  allocate(span: number): number;
  /** Receives a finished page (not yet sealed with its checksum). */
  emit(id: number, p: Uint8Array): void;
}

interface Piece {
  key: Uint8Array;
  id: number;
}

/** Rebalances, splits and writes the tree under `root`; returns the new root page id. */
export function spillTree(ctx: SpillContext, root: Node): number {
  rebalance(ctx, root);
  // A root branch with a single child gives way to it; an emptied root branch becomes a leaf.
  while (!root.leaf && root.keys.length <= 1) {
    if (root.keys.length === 0) {
      root = new Node(true);
      break;
    }
    root = root.kids[0] ?? ctx.materialize(root.children[0]);
  }
  let pieces = spill(ctx, root, true);
  if (pieces.length === 0) {
    // The empty root leaf still needs its page.
    return writePiece(ctx, new Node(true), 0, 0, PAGE_HEADER);
  }
  while (pieces.length > 1) {
    const branch = new Node(false);
    for (const p of pieces) {
      branch.keys.push(p.key);
      branch.children.push(p.id);
      branch.kids.push(undefined);
    }
    pieces = spill(ctx, branch, true);
  }
  return pieces[0].id;
}

/** Merges under-filled materialized nodes into siblings, bottom-up. */
function rebalance(ctx: SpillContext, node: Node): void {
  if (node.leaf) return;
  const kids = node.kids;
  for (let i = 0; i < kids.length; i++) {
    const kid = kids[i];
    if (kid) rebalance(ctx, kid);
  }
  const threshold = ctx.pageSize / 4;
  let i = 0;
  while (i < node.keys.length) {
    const kid = node.kids[i];
    if (!kid) {
      i++;
      continue;
    }
    if (kid.count === 0) {
      node.removeAt(i);
      continue;
    }
    // As bbolt: a branch needs two children and a leaf two elements, else it joins a sibling
    // (so a leaf of one big value left by deletes is packed with its neighbours again).
    const small = kid.count < 2 || kid.smallerThan(threshold);
    if (!small || node.keys.length < 2) {
      i++;
      continue;
    }
    if (i > 0) {
      const left = node.kids[i - 1] ?? ctx.materialize(node.children[i - 1]);
      node.kids[i - 1] = left;
      left.append(kid, node.keys[i]);
      node.removeAt(i);
      // Re-examine the merged node at i - 1 only if it is still small; move on otherwise.
    } else {
      const right = node.kids[1] ?? ctx.materialize(node.children[1]);
      kid.append(right, node.keys[1]);
      node.removeAt(1);
      i++;
    }
  }
}

/**
 * Cuts and writes `node` (and its edited descendants); returns the pieces for its parent.
 * `rightmost`: no key in the tree sorts after the node's (appends land in it).
 */
function spill(ctx: SpillContext, node: Node, rightmost: boolean): Piece[] {
  if (!node.leaf) {
    // Replace every edited child by the pieces it became.
    const keys: Uint8Array[] = [];
    const children: number[] = [];
    const last = node.keys.length - 1;
    for (let i = 0; i < node.keys.length; i++) {
      const kid = node.kids[i];
      if (!kid) {
        keys.push(node.keys[i]);
        children.push(node.children[i]);
        continue;
      }
      const pieces = spill(ctx, kid, rightmost && i === last);
      for (let j = 0; j < pieces.length; j++) {
        // The first piece keeps the parent's separator (a true lower bound, in order with its
        // neighbours), except at index 0, whose key is only a hint: there the piece's own first
        // key (a true lower bound of the piece) keeps the branch sorted.
        keys.push(j === 0 && i > 0 ? node.keys[i] : pieces[j].key);
        children.push(pieces[j].id);
      }
    }
    node.keys = keys;
    node.children = children;
    node.kids = new Array<Node | undefined>(keys.length);
  }
  const n = node.count;
  if (n === 0) return [];
  const ps = ctx.pageSize;
  const total = node.size();
  if (total <= ps) return [{ key: node.firstKey(), id: writePiece(ctx, node, 0, n, total) }];
  const pieces: Piece[] = [];
  for (const [from, to, size] of cutNode(node, ps, rightmost, total)) {
    pieces.push({
      key: node.leaf ? node.leafKey(from) : node.keys[from],
      id: writePiece(ctx, node, from, to, size),
    });
  }
  return pieces;
}

/**
 * Where to cut a node that does not fit one page: [from, to, bytes] per piece (see the file
 * comment). `total` is the node's size as one page.
 */
export function cutNode(
  node: Node,
  ps: number,
  rightmost: boolean,
  total: number,
): [number, number, number][] {
  const n = node.count;
  const sizes = new Array<number>(n);
  for (let i = 0; i < n; i++) sizes[i] = node.elemBytes(i);
  const quarter = (ps - PAGE_HEADER) / 4;
  // Body bytes a one-page piece aims at: a full page for the append end, else equal shares.
  const target = rightmost ? ps - PAGE_HEADER : (total - PAGE_HEADER) / Math.ceil(total / ps);
  const cuts: [number, number, number][] = [];
  let from = 0;
  while (from < n) {
    if (sizes[from] > quarter) {
      // Pack big elements: the count (within the span limit) that fills its span best.
      let size = PAGE_HEADER;
      let bestTo = from + 1;
      let bestSize = PAGE_HEADER + sizes[from];
      let bestFill = -1;
      for (let to = from; to < n;) {
        size += sizes[to++];
        const pages = Math.ceil(size / ps);
        if (pages > MAX_PACKED_SPAN && to - from > 2) break;
        const fill = size / (pages * ps);
        if (fill > bestFill + PACK_GAIN) {
          bestFill = fill;
          bestTo = to;
          bestSize = size;
        }
      }
      cuts.push([from, bestTo, bestSize]);
      from = bestTo;
      continue;
    }
    let size = 0;
    let to = from;
    while (to < n) {
      const e = sizes[to];
      if (to > from && (size >= target || PAGE_HEADER + size + e > ps)) break;
      size += e;
      to++;
    }
    cuts.push([from, to, PAGE_HEADER + size]);
    from = to;
  }
  return cuts;
}

/** Writes elements [from, to) of `node` to a newly allocated page span; returns its id. */
function writePiece(
  ctx: SpillContext,
  node: Node,
  from: number,
  to: number,
  size: number,
): number {
  const ps = ctx.pageSize;
  const span = Math.ceil(size / ps);
  const id = ctx.allocate(span);
  const p = new Uint8Array(span * ps);
  node.writeRange(p, id, span - 1, from, to);
  ctx.emit(id, p);
  return id;
}
