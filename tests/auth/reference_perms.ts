/**
 * A deliberately simple reference for permission checks, straight from etcd's meaning of
 * `[key, rangeEnd)`, with no merging or searching: the randomized tests compare the store's
 * fast check against it.
 */
import { type Permission, PermissionType } from "../../lib/auth/auth_records.ts";

function cmp(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

const isAll = (end: Uint8Array) => end.length === 1 && end[0] === 0;

/** Does this permission cover the single key `k`? */
function hasKey(p: Permission, k: Uint8Array): boolean {
  if (p.rangeEnd.length === 0) return cmp(p.key, k) === 0;
  if (isAll(p.rangeEnd)) return cmp(p.key, k) <= 0;
  return cmp(p.key, k) <= 0 && cmp(k, p.rangeEnd) < 0;
}

/** The first key after `p`'s keys, or null when it runs to the end of the key space. */
function after(p: Permission): Uint8Array | null {
  if (p.rangeEnd.length === 0) return Uint8Array.from([...p.key, 0]);
  if (isAll(p.rangeEnd)) return null;
  return p.rangeEnd;
}

/** May a holder of `perms` do `op` on every key of `[key, rangeEnd)`? */
export function referencePermitted(
  perms: Permission[],
  key: Uint8Array,
  rangeEnd: Uint8Array,
  op: "read" | "write",
): boolean {
  const usable = perms.filter((p) =>
    op === "read" ? p.permType !== PermissionType.WRITE : p.permType !== PermissionType.READ
  );
  const empty = rangeEnd.length > 0 && !isAll(rangeEnd) && cmp(rangeEnd, key) <= 0;
  if (rangeEnd.length === 0 || empty) return usable.some((p) => hasKey(p, key));
  const end = isAll(rangeEnd) ? null : rangeEnd;
  // Sweep: the first key not yet known covered must be in some permission; jump past it.
  let cur = key;
  for (;;) {
    let best: Uint8Array | null | undefined = undefined;
    for (const p of usable) {
      if (!hasKey(p, cur)) continue;
      const a = after(p);
      if (a === null) return true;
      if (best === undefined || (best !== null && cmp(a, best) > 0)) best = a;
    }
    if (best === undefined || best === null) return best === null;
    if (end !== null && cmp(best, end) >= 0) return true;
    cur = best;
  }
}
