/**
 * CRC-32C (Castagnoli), the checksum etcd's WAL uses, computed slicing-by-8 so that
 * checksumming a WAL batch or a page costs a small fraction of writing it.
 */

const POLY = 0x82f63b78;
const TABLES: Uint32Array[] = (() => {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    tables[0][i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    let c = tables[0][i];
    for (let t = 1; t < 8; t++) {
      c = tables[0][c & 0xff] ^ (c >>> 8);
      tables[t][i] = c >>> 0;
    }
  }
  return tables;
})();
const [T0, T1, T2, T3, T4, T5, T6, T7] = TABLES;

/**
 * Extends a running CRC-32C `crc` (0 to start) over `data[start, end)`. Chaining calls gives
 * the same result as one call over the concatenation, which is how the WAL chains records.
 */
export function crc32c(
  data: Uint8Array,
  crc = 0,
  start = 0,
  end = data.length,
): number {
  let c = ~crc >>> 0;
  let i = start;
  while (end - i >= 8) {
    const lo = (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)) ^ c;
    c = T7[lo & 0xff] ^ T6[(lo >>> 8) & 0xff] ^ T5[(lo >>> 16) & 0xff] ^ T4[lo >>> 24] ^
      T3[data[i + 4]] ^ T2[data[i + 5]] ^ T1[data[i + 6]] ^ T0[data[i + 7]];
    i += 8;
  }
  while (i < end) c = T0[(c ^ data[i++]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
