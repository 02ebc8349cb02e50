/**
 * HPACK Huffman coding (RFC 7541 section 5.2 and Appendix B).
 *
 * Decoding walks a tree of 256-way tables, eight bits at a time, so a typical header string
 * costs one table lookup per output octet instead of one branch per bit.
 */
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from "./huffman_table.ts";

/** Raised when a Huffman string is malformed: bad padding or an embedded EOS symbol. */
export class HuffmanError extends Error {
  override name = "HuffmanError";
}

interface Node {
  /** 256 children for an inner node; null for a leaf. */
  children: (Node | undefined)[] | null;
  /** The decoded octet (leaves only). */
  sym: number;
  /** Bits of the code consumed at this level (leaves only), 1..8. */
  codeLen: number;
}

function newInner(): Node {
  return { children: new Array<Node | undefined>(256), sym: 0, codeLen: 0 };
}

function buildTree(): Node {
  const root = newInner();
  for (let sym = 0; sym < 256; sym++) {
    const code = HUFFMAN_CODES[sym];
    let len = HUFFMAN_LENGTHS[sym];
    let cur = root;
    while (len > 8) {
      len -= 8;
      const i = (code >>> len) & 0xff;
      const children = cur.children!;
      let next = children[i];
      if (next === undefined) {
        next = newInner();
        children[i] = next;
      }
      cur = next;
    }
    const shift = 8 - len;
    const start = (code << shift) & 0xff;
    const end = 1 << shift;
    const leaf: Node = { children: null, sym, codeLen: len };
    const children = cur.children!;
    for (let i = start; i < start + end; i++) children[i] = leaf;
  }
  return root;
}

const ROOT = buildTree();

/** A reusable octet buffer for decoded strings, grown as needed. */
let scratch = new Uint8Array(256);

/**
 * Decode a Huffman-coded string from `src[start, end)` to a Latin-1 string (one char per
 * octet, so header octets survive unchanged). Throws {@link HuffmanError} on bad input.
 */
export function huffmanDecode(src: Uint8Array, start: number, end: number): string {
  // Each input octet yields at most 8/5 output octets (shortest code is 5 bits).
  const max = ((end - start) * 8 / 5 | 0) + 1;
  if (scratch.length < max) scratch = new Uint8Array(max * 2);
  const out = scratch;
  let n = 0;
  let cur = 0;
  let cbits = 0;
  let sbits = 0; // bits consumed since the last emitted symbol
  let node = ROOT;
  for (let p = start; p < end; p++) {
    cur = ((cur << 8) | src[p]) & 0xffff;
    cbits += 8;
    sbits += 8;
    while (cbits >= 8) {
      const next = node.children![(cur >>> (cbits - 8)) & 0xff];
      if (next === undefined) throw new HuffmanError("invalid Huffman code (EOS in string)");
      if (next.children === null) {
        out[n++] = next.sym;
        cbits -= next.codeLen;
        node = ROOT;
        sbits = cbits;
      } else {
        node = next;
        cbits -= 8;
      }
    }
  }
  while (cbits > 0) {
    const next = node.children![(cur << (8 - cbits)) & 0xff];
    if (next === undefined || next.children !== null || next.codeLen > cbits) break;
    out[n++] = next.sym;
    cbits -= next.codeLen;
    node = ROOT;
    sbits = cbits;
  }
  // Padding: fewer than 8 bits, all ones, and a strict prefix of EOS (RFC 7541 5.2).
  if (sbits > 7) throw new HuffmanError("invalid Huffman padding (too long)");
  const mask = (1 << cbits) - 1;
  if ((cur & mask) !== mask) throw new HuffmanError("invalid Huffman padding (not EOS prefix)");
  return latin1(out, 0, n);
}

/** Number of octets `s` (Latin-1, one octet per char) takes when Huffman coded. */
export function huffmanEncodedLength(s: string): number {
  let bits = 0;
  for (let i = 0; i < s.length; i++) bits += HUFFMAN_LENGTHS[s.charCodeAt(i) & 0xff];
  return (bits + 7) >>> 3;
}

/**
 * Huffman-code the Latin-1 string `s` into `dst` at `pos`; returns the end position. The caller
 * reserves {@link huffmanEncodedLength} octets.
 */
export function huffmanEncode(s: string, dst: Uint8Array, pos: number): number {
  let cur = 0; // fewer than 8 pending bits between symbols
  let cbits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) & 0xff;
    let len = HUFFMAN_LENGTHS[c];
    const code = HUFFMAN_CODES[c];
    if (len > 24) {
      // Emit the high part first so the accumulator stays below 2^31.
      const hi = len - 16;
      cur = (cur << hi) | (code >>> 16);
      cbits += hi;
      while (cbits >= 8) {
        cbits -= 8;
        dst[pos++] = (cur >>> cbits) & 0xff;
      }
      cur &= (1 << cbits) - 1;
      len = 16;
    }
    cur = (cur << len) | (code & ((1 << len) - 1));
    cbits += len;
    while (cbits >= 8) {
      cbits -= 8;
      dst[pos++] = (cur >>> cbits) & 0xff;
    }
    cur &= (1 << cbits) - 1;
  }
  if (cbits > 0) {
    dst[pos++] = ((cur << (8 - cbits)) | (0xff >>> cbits)) & 0xff;
  }
  return pos;
}

/** Octets to a Latin-1 string, one char per octet. */
export function latin1(src: Uint8Array, start: number, end: number): string {
  const len = end - start;
  if (len <= 0) return "";
  if (len < 64) {
    let s = "";
    for (let i = start; i < end; i++) s += String.fromCharCode(src[i]);
    return s;
  }
  let s = "";
  for (let i = start; i < end; i += 4096) {
    s += String.fromCharCode.apply(
      null,
      src.subarray(i, Math.min(end, i + 4096)) as unknown as number[],
    );
  }
  return s;
}
