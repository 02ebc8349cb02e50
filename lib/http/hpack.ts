/**
 * HPACK header compression for HTTP/2 (RFC 7541): a decoder with its dynamic table kept as a
 * ring, and an encoder that indexes repeated response fields so a steady stream of gRPC
 * responses costs a few octets of header each.
 *
 * Header names and values are Latin-1 strings (one char per octet) so arbitrary octets survive.
 */
import { ByteBuffer } from "./byte_buffer.ts";
import { huffmanDecode, huffmanEncode, huffmanEncodedLength, latin1 } from "./huffman.ts";

/** A malformed header block: the connection must end with COMPRESSION_ERROR. */
export class HpackError extends Error {
  override name = "HpackError";
}

/** RFC 7541 Appendix A. Index 1 is STATIC_TABLE[0]. */
export const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];

const STATIC_LEN = STATIC_TABLE.length; // 61
const STATIC_NAME = new Map<string, number>();
const STATIC_PAIR = new Map<string, Map<string, number>>();
for (let i = STATIC_LEN - 1; i >= 0; i--) {
  const [n, v] = STATIC_TABLE[i];
  STATIC_NAME.set(n, i + 1);
  let m = STATIC_PAIR.get(n);
  if (m === undefined) STATIC_PAIR.set(n, m = new Map());
  m.set(v, i + 1);
}

/** Entry overhead in table size accounting (RFC 7541 4.1). */
const ENTRY_OVERHEAD = 32;

/** The dynamic table as a ring of names and values, newest at `head - 1`. */
class DynamicTable {
  names: string[] = new Array<string>(16);
  values: string[] = new Array<string>(16);
  mask = 15;
  head = 0; // next slot to write
  count = 0;
  size = 0;
  /** Total insertions ever; the entry inserted n-th (0-based) has id n. */
  inserted = 0;

  constructor(public maxSize: number) {}

  /** Name and value of dynamic index `i` (1 = newest); undefined if out of range. */
  at(i: number): number {
    return (this.head - i) & this.mask;
  }

  add(name: string, value: string, onEvict?: (name: string, value: string, id: number) => void) {
    const sz = name.length + value.length + ENTRY_OVERHEAD;
    while (this.count > 0 && this.size + sz > this.maxSize) this.evictOne(onEvict);
    this.inserted++;
    if (sz > this.maxSize) return; // an entry larger than the table empties it (RFC 7541 4.4)
    if (this.count === this.names.length) this.grow();
    this.names[this.head] = name;
    this.values[this.head] = value;
    this.head = (this.head + 1) & this.mask;
    this.count++;
    this.size += sz;
  }

  resize(maxSize: number, onEvict?: (name: string, value: string, id: number) => void) {
    this.maxSize = maxSize;
    while (this.count > 0 && this.size > maxSize) this.evictOne(onEvict);
  }

  private evictOne(onEvict?: (name: string, value: string, id: number) => void) {
    const slot = (this.head - this.count) & this.mask;
    const name = this.names[slot];
    const value = this.values[slot];
    this.size -= name.length + value.length + ENTRY_OVERHEAD;
    this.count--;
    if (onEvict !== undefined) onEvict(name, value, this.inserted - this.count - 1);
  }

  private grow() {
    const cap = this.names.length * 2;
    const names = new Array<string>(cap);
    const values = new Array<string>(cap);
    for (let i = this.count; i >= 1; i--) {
      const slot = (this.head - i) & this.mask;
      names[this.count - i] = this.names[slot];
      values[this.count - i] = this.values[slot];
    }
    this.names = names;
    this.values = values;
    this.mask = cap - 1;
    this.head = this.count;
  }
}

/**
 * Decodes header blocks. One per connection direction; blocks must be decoded in the order
 * they arrive, even for streams that are being refused, to keep the table in step.
 */
export class HpackDecoder {
  private table: DynamicTable;
  /** The largest table size the peer may choose: our SETTINGS_HEADER_TABLE_SIZE. */
  maxAllowedSize: number;

  constructor(maxTableSize = 4096) {
    this.table = new DynamicTable(maxTableSize);
    this.maxAllowedSize = maxTableSize;
  }

  /** Current dynamic table size in octets (RFC 7541 accounting). */
  get tableSize(): number {
    return this.table.size;
  }

  /** Entries of the dynamic table, newest first (for tests and diagnostics). */
  entries(): [string, string][] {
    const out: [string, string][] = [];
    for (let i = 1; i <= this.table.count; i++) {
      const slot = this.table.at(i);
      out.push([this.table.names[slot], this.table.values[slot]]);
    }
    return out;
  }

  /**
   * Decode `src[start, end)`, appending name, value pairs to `out` (flat: n0, v0, n1, v1...).
   * Stops storing (but keeps decoding) once the header list size passes `maxListSize`.
   * Returns the header list size (RFC 9113 6.5.2 accounting). Throws {@link HpackError}.
   */
  decode(
    src: Uint8Array,
    start: number,
    end: number,
    out: string[],
    maxListSize = Infinity,
  ): number {
    const t = this.table;
    let p = start;
    let listSize = 0;
    let sawField = false;
    while (p < end) {
      const b = src[p];
      let name: string;
      let value: string;
      if (b & 0x80) {
        // Indexed field (6.1).
        const idx = this.int(src, p, end, 7);
        p = this.pos;
        if (idx === 0) throw new HpackError("index 0");
        if (idx <= STATIC_LEN) {
          const e = STATIC_TABLE[idx - 1];
          name = e[0];
          value = e[1];
        } else {
          const d = idx - STATIC_LEN;
          if (d > t.count) throw new HpackError(`index ${idx} out of range`);
          const slot = t.at(d);
          name = t.names[slot];
          value = t.values[slot];
        }
      } else if ((b & 0xe0) === 0x20) {
        // Dynamic table size update (6.3): only before the first field.
        if (sawField) throw new HpackError("table size update after a field");
        const size = this.int(src, p, end, 5);
        p = this.pos;
        if (size > this.maxAllowedSize) throw new HpackError("table size update too large");
        t.resize(size);
        continue;
      } else {
        // Literal (6.2.1 with indexing, 6.2.2 without, 6.2.3 never).
        const indexing = (b & 0xc0) === 0x40;
        const idx = this.int(src, p, end, indexing ? 6 : 4);
        p = this.pos;
        if (idx === 0) {
          name = this.str(src, p, end);
          p = this.pos;
        } else if (idx <= STATIC_LEN) {
          name = STATIC_TABLE[idx - 1][0];
        } else {
          const d = idx - STATIC_LEN;
          if (d > t.count) throw new HpackError(`index ${idx} out of range`);
          name = t.names[t.at(d)];
        }
        value = this.str(src, p, end);
        p = this.pos;
        if (indexing) t.add(name, value);
      }
      sawField = true;
      listSize += name.length + value.length + ENTRY_OVERHEAD;
      if (listSize <= maxListSize) out.push(name, value);
    }
    return listSize;
  }

  /** Position after the last int/str read (avoids allocating result tuples). */
  private pos = 0;

  private int(src: Uint8Array, p: number, end: number, prefix: number): number {
    const max = (1 << prefix) - 1;
    let v = src[p++] & max;
    if (v < max) {
      this.pos = p;
      return v;
    }
    let m = 0;
    for (;;) {
      if (p >= end) throw new HpackError("truncated integer");
      const b = src[p++];
      v += (b & 0x7f) * 2 ** m;
      m += 7;
      if (v > 0x7fffffff) throw new HpackError("integer overflow");
      if ((b & 0x80) === 0) break;
    }
    this.pos = p;
    return v;
  }

  private str(src: Uint8Array, p: number, end: number): string {
    if (p >= end) throw new HpackError("truncated string");
    const huff = (src[p] & 0x80) !== 0;
    const len = this.int(src, p, end, 7);
    p = this.pos;
    if (len > end - p) throw new HpackError("string longer than block");
    this.pos = p + len;
    if (huff) {
      try {
        return huffmanDecode(src, p, p + len);
      } catch (e) {
        throw new HpackError((e as Error).message);
      }
    }
    return latin1(src, p, p + len);
  }
}

/** Response fields that change on nearly every response: never worth a table slot. */
const NO_INDEX = new Set([
  "content-length",
  "date",
  "etag",
  "last-modified",
  "location",
  "set-cookie",
  "grpc-message",
  "grpc-status-details-bin",
  "authorization",
]);

/** Largest field (name + value octets) the encoder will add to its table. */
const MAX_INDEXED_FIELD = 512;

/**
 * Encodes header blocks. The dynamic table size follows the peer's SETTINGS_HEADER_TABLE_SIZE,
 * capped at 4096.
 */
export class HpackEncoder {
  private table: DynamicTable;
  /** name -> value -> insertion id of the newest copy. */
  private dyn = new Map<string, Map<string, number>>();
  private pendingSizeUpdate = -1;
  private readonly onEvict = (name: string, value: string, id: number) => {
    const m = this.dyn.get(name);
    if (m !== undefined && m.get(value) === id) {
      m.delete(value);
      if (m.size === 0) this.dyn.delete(name);
    }
  };

  constructor(maxTableSize = 4096) {
    this.table = new DynamicTable(maxTableSize);
  }

  /** Apply the peer's SETTINGS_HEADER_TABLE_SIZE; the change is signalled in the next block. */
  setMaxTableSize(size: number): void {
    const s = Math.min(size, 4096);
    if (s === this.table.maxSize) return;
    this.table.resize(s, this.onEvict);
    this.pendingSizeUpdate = s;
  }

  /** Start a header block: emits a pending table size update. */
  begin(out: ByteBuffer): void {
    if (this.pendingSizeUpdate >= 0) {
      writeInt(out, 0x20, 5, this.pendingSizeUpdate);
      this.pendingSizeUpdate = -1;
    }
  }

  /** Append one field (lower-case name) to the block being built in `out`. */
  field(out: ByteBuffer, name: string, value: string): void {
    const sp = STATIC_PAIR.get(name);
    if (sp !== undefined) {
      const i = sp.get(value);
      if (i !== undefined) {
        writeInt(out, 0x80, 7, i);
        return;
      }
    }
    const t = this.table;
    const dm = this.dyn.get(name);
    if (dm !== undefined) {
      const id = dm.get(value);
      if (id !== undefined) {
        writeInt(out, 0x80, 7, STATIC_LEN + t.inserted - id);
        return;
      }
    }
    const nameIdx = STATIC_NAME.get(name) ?? 0;
    const index = !NO_INDEX.has(name) && name.length + value.length <= MAX_INDEXED_FIELD &&
      name.length + value.length + ENTRY_OVERHEAD <= t.maxSize;
    if (index) writeInt(out, 0x40, 6, nameIdx);
    else writeInt(out, 0x00, 4, nameIdx);
    if (nameIdx === 0) writeStr(out, name);
    writeStr(out, value);
    if (index) {
      t.add(name, value, this.onEvict);
      let m = this.dyn.get(name);
      if (m === undefined) this.dyn.set(name, m = new Map());
      m.set(value, t.inserted - 1);
    }
  }
}

/** HPACK integer with an N-bit prefix (RFC 7541 5.1); `flags` fills the prefix octet's top. */
export function writeInt(out: ByteBuffer, flags: number, prefix: number, v: number): void {
  const max = (1 << prefix) - 1;
  if (v < max) {
    out.u8(flags | v);
    return;
  }
  out.u8(flags | max);
  v -= max;
  while (v >= 128) {
    out.u8((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.u8(v);
}

/** HPACK string literal, Huffman coded when that is shorter. */
export function writeStr(out: ByteBuffer, s: string): void {
  const hlen = s.length > 0 ? huffmanEncodedLength(s) : 0;
  if (hlen < s.length) {
    writeInt(out, 0x80, 7, hlen);
    out.ensure(hlen);
    out.len = huffmanEncode(s, out.buf, out.len);
  } else {
    writeInt(out, 0x00, 7, s.length);
    out.ascii(s);
  }
}

/** Encode without Huffman or indexing choices: used by tests to build exact blocks. */
export function writeStrPlain(out: ByteBuffer, s: string): void {
  writeInt(out, 0x00, 7, s.length);
  out.ascii(s);
}
