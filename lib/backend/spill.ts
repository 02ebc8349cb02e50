/**
 * The spill: how a write transaction's edited nodes become new pages at commit. First the
 * tree is rebalanced (a node under a quarter page is merged into a sibling, an emptied node
 * disappears, a root branch with one child gives way to the child), then every edited node is
 * split into page-sized pieces, each piece gets a freshly allocated page id, and the parents
 * are rewritten to point at the pieces, up to a new root.
 */
import { Node } from "./node.ts";
import { PAGE_HEADER } from "./page.ts";

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
  let pieces = spill(ctx, root);
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
    pieces = spill(ctx, branch);
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
    const small = (!kid.leaf && kid.keys.length < 2) || kid.smallerThan(threshold);
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

/** Splits and writes `node` (and its edited descendants); returns the pieces for its parent. */
function spill(ctx: SpillContext, node: Node): Piece[] {
  if (!node.leaf) {
    // Replace every edited child by the pieces it became.
    const keys: Uint8Array[] = [];
    const children: number[] = [];
    for (let i = 0; i < node.keys.length; i++) {
      const kid = node.kids[i];
      if (!kid) {
        keys.push(node.keys[i]);
        children.push(node.children[i]);
        continue;
      }
      const pieces = spill(ctx, kid);
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
  // Split into pieces of roughly equal size, each at most a page unless one element is bigger.
  const pieceCount = Math.ceil(total / ps);
  const target = (total - PAGE_HEADER) / pieceCount;
  const pieces: Piece[] = [];
  let from = 0;
  while (from < n) {
    let size = 0;
    let to = from;
    while (to < n) {
      const e = node.elemBytes(to);
      if (to > from && (size >= target || PAGE_HEADER + size + e > ps)) break;
      size += e;
      to++;
    }
    pieces.push({
      key: node.leaf ? node.leafKey(from) : node.keys[from],
      id: writePiece(ctx, node, from, to, PAGE_HEADER + size),
    });
    from = to;
  }
  return pieces;
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
