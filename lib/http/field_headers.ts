/**
 * A `Headers` for the request and response fields of one HTTP exchange, kept as a flat list.
 *
 * The platform's `Headers` validates and normalizes through WebIDL on every call, and building
 * one per request (plus the copies Connect makes) cost more allocation than the rest of a
 * unary etcd call together (about 9 KB of a put's 34 KB). This class keeps the same observable
 * behaviour for what HTTP handlers do with headers: case-insensitive names, values trimmed of
 * surrounding whitespace, invalid names and values refused with a TypeError, duplicates
 * combined with ", " by `get` (Set-Cookie apart, through `getSetCookie`), iteration in sorted
 * name order with combined values. It is a structural `Headers`, so it goes anywhere one is
 * expected (`new Headers(fieldHeaders)` copies it like any other init).
 */

const NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[\0\r\n]/;

function checkName(name: string): string {
  if (!NAME.test(name)) throw new TypeError(`invalid header name: ${JSON.stringify(name)}`);
  return name.toLowerCase();
}

function normalizeValue(value: string): string {
  const v = String(value).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
  if (BAD_VALUE.test(v)) throw new TypeError(`invalid header value: ${JSON.stringify(value)}`);
  return v;
}

/** Lower-case names from HTTP/2 (RFC 9113 forbids upper case) need no folding. */
function isLower(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) return false;
  }
  return true;
}

/** See the module comment. */
export class FieldHeaders implements Headers {
  /** name, value, name, value, … (names lower case, in arrival order). */
  #fields: string[] = [];

  constructor(init?: HeadersInit) {
    if (init === undefined) return;
    if (Array.isArray(init)) {
      for (const pair of init) {
        if (pair.length !== 2) throw new TypeError("header init pairs must have two items");
        this.append(pair[0], pair[1]);
      }
    } else if (typeof (init as Headers).forEach === "function" && !Array.isArray(init)) {
      (init as Headers).forEach((v, k) => this.append(k, v));
    } else {
      const rec = init as Record<string, string>;
      for (const k in rec) if (Object.hasOwn(rec, k)) this.append(k, rec[k]);
    }
  }

  /** Appends a field already checked by an HTTP/2 parser: lower-case name, no CR/LF/NUL. */
  appendChecked(name: string, value: string): void {
    if (!isLower(name) || !NAME.test(name)) checkName(name);
    this.#fields.push(name, normalizeValue(value));
  }

  append(name: string, value: string): void {
    this.#fields.push(checkName(name), normalizeValue(value));
  }

  delete(name: string): void {
    const n = checkName(name);
    const f = this.#fields;
    let w = 0;
    for (let r = 0; r < f.length; r += 2) {
      if (f[r] === n) continue;
      f[w++] = f[r];
      f[w++] = f[r + 1];
    }
    f.length = w;
  }

  get(name: string): string | null {
    const n = isLower(name) ? name : name.toLowerCase();
    const f = this.#fields;
    let out: string | null = null;
    for (let i = 0; i < f.length; i += 2) {
      if (f[i] === n) out = out === null ? f[i + 1] : `${out}, ${f[i + 1]}`;
    }
    if (out === null && !NAME.test(name)) checkName(name);
    return out;
  }

  getSetCookie(): string[] {
    const f = this.#fields;
    const out: string[] = [];
    for (let i = 0; i < f.length; i += 2) if (f[i] === "set-cookie") out.push(f[i + 1]);
    return out;
  }

  has(name: string): boolean {
    const n = checkName(name);
    const f = this.#fields;
    for (let i = 0; i < f.length; i += 2) if (f[i] === n) return true;
    return false;
  }

  set(name: string, value: string): void {
    const n = checkName(name);
    const v = normalizeValue(value);
    const f = this.#fields;
    let at = -1;
    let w = 0;
    for (let r = 0; r < f.length; r += 2) {
      if (f[r] === n) {
        if (at >= 0) continue;
        at = w;
      }
      f[w++] = f[r];
      f[w++] = f[r + 1];
    }
    f.length = w;
    if (at >= 0) f[at + 1] = v;
    else f.push(n, v);
  }

  /** The fields as `Headers` iterates them: sorted names, duplicates combined. */
  #combined(): [string, string][] {
    const f = this.#fields;
    const out: [string, string][] = [];
    // insertion sort by name (stable, so equal names keep arrival order): a handful of fields
    for (let i = 0; i < f.length; i += 2) {
      const pair: [string, string] = [f[i], f[i + 1]];
      let j = out.length;
      while (j > 0 && out[j - 1][0] > pair[0]) j--;
      out.splice(j, 0, pair);
    }
    // combine runs of one name (Set-Cookie stays one entry per value)
    let w = 0;
    for (let r = 0; r < out.length; r++) {
      const cur = out[r];
      if (w > 0 && out[w - 1][0] === cur[0] && cur[0] !== "set-cookie") {
        out[w - 1][1] = `${out[w - 1][1]}, ${cur[1]}`;
      } else out[w++] = cur;
    }
    out.length = w;
    return out;
  }

  forEach(
    callback: (value: string, key: string, parent: this) => void,
    thisArg?: unknown,
  ): void {
    const c = this.#combined();
    for (let i = 0; i < c.length; i++) callback.call(thisArg, c[i][1], c[i][0], this);
  }

  entries(): ReturnType<Headers["entries"]> {
    return this.#combined()[Symbol.iterator]();
  }

  keys(): ReturnType<Headers["keys"]> {
    return this.#combined().map(([k]) => k)[Symbol.iterator]();
  }

  values(): ReturnType<Headers["keys"]> {
    return this.#combined().map(([, v]) => v)[Symbol.iterator]();
  }

  [Symbol.iterator](): ReturnType<Headers["entries"]> {
    return this.entries();
  }

  /** True when no field is present (cheaper than iterating). */
  get isEmpty(): boolean {
    return this.#fields.length === 0;
  }
}
