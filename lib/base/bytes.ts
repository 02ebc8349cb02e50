/**
 * Byte-string helpers the layers share: keys in Concord are Uint8Array ordered bytewise, as
 * etcd's are, and etcd's "prefix" ranges are expressed with a computed range end.
 */

/** Bytewise comparison of two byte arrays (-1, 0, 1). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** True when two byte arrays hold the same bytes. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The range end that selects every key with `prefix` (etcd's GetPrefixRangeEnd): the prefix
 * with trailing 0xff bytes dropped and the last byte incremented; "\0" (all keys) when the
 * prefix is empty or all 0xff.
 */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i] < 0xff) {
      const end = prefix.slice(0, i + 1);
      end[i]++;
      return end;
    }
  }
  return new Uint8Array([0]);
}
