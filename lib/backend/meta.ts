/**
 * The meta page: the root of everything in the file. Pages 0 and 1 are meta pages; a commit
 * writes the next transaction's meta into slot `txid % 2`, so the previous one survives a torn
 * meta write. Opening picks the valid meta with the higher transaction id.
 */
import { CorruptionError } from "./errors.ts";
import {
  META,
  PAGE_HEADER,
  pageChecksum,
  pageFlags,
  pageId,
  pageUsed,
  putU32,
  sealPage,
  u32,
  writeHeader,
} from "./page.ts";

/** "conc" read as a little-endian u32. */
export const MAGIC = 0x636e6f63;
/** The page-file format version this code reads and writes. */
export const FORMAT_VERSION = 1;
/** Bytes of a meta page in use (header plus fields). */
export const META_USED = PAGE_HEADER + 36;

/** The fields of a meta page. */
export interface Meta {
  pageSize: number;
  /** Root page of the root bucket (whose keys are the top-level buckets). */
  root: number;
  /** First page of the freelist. */
  freelist: number;
  /** High-water mark: the number of pages in use by the file (ids below it). */
  hwm: number;
  /** The transaction that wrote this meta. */
  txid: number;
}

/** Encodes a meta page for slot `txid % 2` into a fresh page-size buffer. */
export function encodeMeta(m: Meta): Uint8Array {
  const p = new Uint8Array(m.pageSize);
  writeHeader(p, m.txid % 2, META, 0, 0, META_USED);
  const o = PAGE_HEADER;
  putU32(p, o, MAGIC);
  putU32(p, o + 4, FORMAT_VERSION);
  putU32(p, o + 8, m.pageSize);
  putU32(p, o + 12, 0);
  putU32(p, o + 16, m.root);
  putU32(p, o + 20, m.freelist);
  putU32(p, o + 24, m.hwm);
  putU32(p, o + 28, m.txid % 0x1_0000_0000);
  putU32(p, o + 32, Math.floor(m.txid / 0x1_0000_0000));
  sealPage(p);
  return p;
}

/**
 * Decodes and validates the meta page in slot `slot` (0 or 1) read from `p`; throws
 * CorruptionError naming the page when anything is wrong.
 */
export function decodeMeta(p: Uint8Array, slot: number): Meta {
  if (p.length < META_USED) {
    throw new CorruptionError(slot, `meta page truncated (${p.length} bytes)`);
  }
  const o = PAGE_HEADER;
  const magic = u32(p, o);
  if (magic !== MAGIC) {
    throw new CorruptionError(slot, `bad magic 0x${magic.toString(16)} in meta page`);
  }
  if (pageFlags(p) !== META) throw new CorruptionError(slot, "not a meta page");
  if (pageId(p) !== slot) throw new CorruptionError(slot, `meta page names slot ${pageId(p)}`);
  if (pageUsed(p) !== META_USED) throw new CorruptionError(slot, "bad meta page size");
  const want = u32(p, 16);
  const have = pageChecksum(p);
  if (want !== have) throw new CorruptionError(slot, "meta checksum mismatch");
  const version = u32(p, o + 4);
  if (version !== FORMAT_VERSION) {
    throw new CorruptionError(slot, `unsupported format version ${version}`);
  }
  const m: Meta = {
    pageSize: u32(p, o + 8),
    root: u32(p, o + 16),
    freelist: u32(p, o + 20),
    hwm: u32(p, o + 24),
    txid: u32(p, o + 28) + u32(p, o + 32) * 0x1_0000_0000,
  };
  if (m.txid % 2 !== slot) {
    throw new CorruptionError(slot, `transaction ${m.txid} in the wrong meta slot`);
  }
  if (m.root < 2 || m.root >= m.hwm || m.freelist < 2 || m.freelist >= m.hwm) {
    throw new CorruptionError(
      slot,
      `root ${m.root} or freelist ${m.freelist} outside pages 2..${m.hwm - 1}`,
    );
  }
  return m;
}
