/**
 * How the console shows bytes: a value as text, pretty JSON or a hex dump; lease ids in hex
 * (as etcdctl prints and takes them); sizes in binary units. Pure functions, no DOM.
 */

const strict = new TextDecoder("utf-8", { fatal: true });
const lenient = new TextDecoder();

/** The bytes as UTF-8 text, or undefined when they are not valid UTF-8. */
export function utf8(b: Uint8Array): string | undefined {
  try {
    return strict.decode(b);
  } catch {
    return undefined;
  }
}

/** The bytes as text for a label: invalid UTF-8 shows U+FFFD, long text is cut at `max`. */
export function shortText(b: Uint8Array, max = 80): string {
  const t = lenient.decode(b.length > max * 4 ? b.subarray(0, max * 4) : b);
  return t.length > max ? t.slice(0, max) + "…" : t;
}

/** A value view: the text shown, or why the bytes cannot be shown that way. */
export type View = { ok: true; text: string } | { ok: false; reason: string };

/** The value as text (invalid UTF-8 is refused: use the hex view). */
export function asText(b: Uint8Array): View {
  const t = utf8(b);
  return t === undefined
    ? { ok: false, reason: "not valid UTF-8: see the hex view" }
    : { ok: true, text: t };
}

/** The value as JSON, indented by two spaces, or the parser's complaint. */
export function asJson(b: Uint8Array): View {
  const t = utf8(b);
  if (t === undefined) return { ok: false, reason: "not valid UTF-8, so not JSON" };
  try {
    return { ok: true, text: JSON.stringify(JSON.parse(t), null, 2) };
  } catch (e) {
    return { ok: false, reason: `not JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** A hex dump: offset, 16 bytes in hex, and their printable ASCII, one line per 16 bytes. */
export function asHex(b: Uint8Array): View {
  const lines: string[] = [];
  for (let off = 0; off < b.length; off += 16) {
    const row = b.subarray(off, off + 16);
    const hex = Array.from(row, (x) => x.toString(16).padStart(2, "0")).join(" ");
    const ascii = Array.from(row, (x) => (x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : "."))
      .join("");
    lines.push(`${off.toString(16).padStart(8, "0")}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return { ok: true, text: lines.join("\n") };
}

/** A lease id in hex, as etcdctl prints it (0: no lease). */
export function leaseHex(id: bigint): string {
  return id.toString(16);
}

/** A lease id typed in hex (as etcdctl takes it); empty means no lease (0). */
export function parseLease(s: string): bigint {
  const t = s.trim().replace(/^0x/i, "");
  if (t === "") return 0n;
  if (!/^[0-9a-f]{1,16}$/i.test(t)) throw new RangeError(`lease id ${s} is not a hex number`);
  return BigInt("0x" + t);
}

/** A byte count in binary units (as etcdctl's table prints db sizes). */
export function bytesText(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}
