/**
 * Go's text formats that etcdctl's output is made of, reproduced byte for byte: `%q`
 * (strconv.Quote), encoding/json's strings (HTML-safe escapes, invalid UTF-8 as U+FFFD) and
 * objects with `omitempty`, `%x`/`%016x`/`%16x` of 64-bit ids, and `\x`-hex byte strings.
 */

const utf8 = new TextDecoder("utf-8", { fatal: false });

/** Decodes one UTF-8 rune at `i`: its code point, or -1 for an invalid byte, and its length. */
function decodeRune(b: Uint8Array, i: number): [number, number] {
  const c = b[i];
  if (c < 0x80) return [c, 1];
  let need: number;
  if (c >= 0xc2 && c <= 0xdf) need = 1;
  else if (c >= 0xe0 && c <= 0xef) need = 2;
  else if (c >= 0xf0 && c <= 0xf4) need = 3;
  else return [-1, 1];
  if (i + need > b.length - 1) return [-1, 1];
  let cp = c & (need === 1 ? 0x1f : need === 2 ? 0x0f : 0x07);
  for (let k = 1; k <= need; k++) {
    const d = b[i + k];
    if ((d & 0xc0) !== 0x80) return [-1, 1];
    cp = (cp << 6) | (d & 0x3f);
  }
  const min = [0, 0x80, 0x800, 0x10000][need];
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return [-1, 1];
  return [cp, need + 1];
}

const printable = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/** Go's `%q` of a string holding these bytes (strconv.Quote). */
export function goQuote(input: Uint8Array | string): string {
  const b = typeof input === "string" ? new TextEncoder().encode(input) : input;
  let out = '"';
  for (let i = 0; i < b.length;) {
    const [cp, n] = decodeRune(b, i);
    if (cp < 0) {
      out += "\\x" + b[i].toString(16).padStart(2, "0");
      i += n;
      continue;
    }
    i += n;
    const ch = String.fromCodePoint(cp);
    if (ch === '"' || ch === "\\") out += "\\" + ch;
    else if (printable.test(ch)) out += ch;
    else if (cp === 7) out += "\\a";
    else if (cp === 8) out += "\\b";
    else if (cp === 12) out += "\\f";
    else if (cp === 10) out += "\\n";
    else if (cp === 13) out += "\\r";
    else if (cp === 9) out += "\\t";
    else if (cp === 11) out += "\\v";
    else if (cp < 0x20 || cp === 0x7f) out += "\\x" + cp.toString(16).padStart(2, "0");
    else if (cp < 0x10000) out += "\\u" + cp.toString(16).padStart(4, "0");
    else out += "\\U" + cp.toString(16).padStart(8, "0");
  }
  return out + '"';
}

/** Go's `string(bytes)` printed with %s / Println: the bytes as they are. */
export function goString(b: Uint8Array): string {
  return utf8.decode(b);
}

/** encoding/json's encoding of a Go string (json.Marshal's HTML-safe escaping). */
export function jsonString(input: Uint8Array | string): string {
  const b = typeof input === "string" ? new TextEncoder().encode(input) : input;
  let out = '"';
  for (let i = 0; i < b.length;) {
    const [cp, n] = decodeRune(b, i);
    i += n;
    if (cp < 0) {
      out += "\\ufffd";
      continue;
    }
    if (cp === 0x22) out += '\\"';
    else if (cp === 0x5c) out += "\\\\";
    else if (cp === 0x0a) out += "\\n";
    else if (cp === 0x0d) out += "\\r";
    else if (cp === 0x09) out += "\\t";
    else if (
      cp < 0x20 || cp === 0x3c || cp === 0x3e || cp === 0x26 || cp === 0x2028 || cp === 0x2029
    ) {
      out += "\\u" + cp.toString(16).padStart(4, "0");
    } else out += String.fromCodePoint(cp);
  }
  return out + '"';
}

/** Standard base64 with padding (how encoding/json writes []byte). */
export function base64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) {
    s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** A JSON member: its name and encoded value, or undefined when omitted. */
export type JsonField = readonly [string, string | undefined];

/** A JSON object from members in order, skipping omitted ones (Go's struct encoding). */
export function jsonObject(fields: readonly JsonField[]): string {
  const parts: string[] = [];
  for (const [k, v] of fields) if (v !== undefined) parts.push(`${jsonString(k)}:${v}`);
  return `{${parts.join(",")}}`;
}

/** A JSON array, or `null` for a nil slice. */
export function jsonArray<T>(items: readonly T[] | null, enc: (t: T) => string): string {
  if (items === null) return "null";
  return `[${items.map(enc).join(",")}]`;
}

/** `omitempty` helpers: undefined when the value is Go's zero value. */
export const omit = {
  num(v: bigint | number | undefined): string | undefined {
    return v === undefined || v === 0 || v === 0n ? undefined : String(v);
  },
  bool(v: boolean | undefined): string | undefined {
    return v ? "true" : undefined;
  },
  str(v: string | undefined): string | undefined {
    return v ? jsonString(v) : undefined;
  },
  bytes(v: Uint8Array | undefined): string | undefined {
    return v && v.length > 0 ? jsonString(base64(v)) : undefined;
  },
  list<T>(v: readonly T[] | undefined, enc: (t: T) => string): string | undefined {
    return v && v.length > 0 ? jsonArray(v, enc) : undefined;
  },
  obj<T>(v: T | undefined, enc: (t: T) => string): string | undefined {
    return v === undefined ? undefined : enc(v);
  },
};

/** An unsigned 64-bit value of a (possibly negative) int64, as Go's %x prints LeaseIDs. */
function u64(v: bigint): bigint {
  return BigInt.asUintN(64, v);
}

/** `%016x` of a 64-bit id. */
export function hex016(v: bigint): string {
  return hexId(v).padStart(16, "0");
}

/** `%16x` of a 64-bit id (space padded). */
export function hex16(v: bigint): string {
  return hexId(v).padStart(16, " ");
}

/** `%x` of a 64-bit id (types.ID's String()). A negative int64 prints with a minus, as Go's. */
export function hexId(v: bigint): string {
  return v < 0n ? "-" + (-v).toString(16) : v.toString(16);
}

/** The bits of an int64 lease id as uint64 (for places Go prints it unsigned). */
export function asUint64(v: bigint): bigint {
  return u64(v);
}

/** etcdctl's --hex form of bytes: `\x66\x6f\x6f`. */
export function hexBytes(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += "\\x" + x.toString(16).padStart(2, "0");
  return s;
}

/**
 * go-humanize's Bytes (SI units), as etcdctl prints DB SIZE: "%.0f" rounds a tie to even as
 * Go's fmt does (20480 bytes is "20 kB", not "21 kB").
 */
export function humanBytes(n: number): string {
  if (n < 10) return `${n} B`;
  const sizes = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
  const e = Math.floor(Math.log(n) / Math.log(1000));
  const val = Math.floor((n / Math.pow(1000, e)) * 10 + 0.5) / 10;
  if (val < 10) return `${val.toFixed(1)} ${sizes[e]}`;
  const floor = Math.floor(val);
  const whole = val - floor === 0.5 ? (floor % 2 === 0 ? floor : floor + 1) : Math.round(val);
  return `${whole} ${sizes[e]}`;
}
