/**
 * grpc-message percent-encoding as the gRPC spec defines it: only bytes outside printable
 * ASCII (0x20-0x7E) and '%' itself are escaped. Connect escapes with encodeURIComponent,
 * which also escapes ':' and ' '; grpc-js decodes with decodeURI, which leaves "%3A" in place,
 * so etcd's "etcdserver: ..." messages would reach Node clients mangled. The API front
 * rewrites the header to the spec's form, which every gRPC implementation decodes.
 */

/** Percent-encodes `message` per the gRPC spec. */
export function encodeGrpcMessage(message: string): string {
  const bytes = new TextEncoder().encode(message);
  let out = "";
  for (const b of bytes) {
    if (b >= 0x20 && b <= 0x7e && b !== 0x25) out += String.fromCharCode(b);
    else out += "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/** Decodes a percent-encoded grpc-message; malformed escapes are kept literally. */
export function decodeGrpcMessage(value: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x25 && i + 2 < value.length && /^[0-9a-fA-F]{2}$/.test(value.slice(i + 1, i + 3))) {
      bytes.push(parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) bytes.push(c);
    else bytes.push(...new TextEncoder().encode(value[i]));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** Rewrites a grpc-message entry of `headers` in place to the spec's encoding. */
export function normalizeGrpcMessage(headers: Headers | undefined): void {
  const v = headers?.get("grpc-message");
  if (v === null || v === undefined) return;
  headers?.set("grpc-message", encodeGrpcMessage(decodeGrpcMessage(v)));
}
