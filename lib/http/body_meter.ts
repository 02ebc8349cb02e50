/**
 * Enforces the hard request-body caps as bytes arrive: a total cap for plain bodies, and a
 * per-message cap for envelope-framed bodies (gRPC, gRPC-web, Connect streaming), whose 5-octet
 * prefixes (flags, 32-bit length) it follows without buffering anything.
 */
import { BodyTooLargeError, type HttpLimits } from "./limits.ts";

/** True for content types whose bodies are sequences of length-prefixed envelopes. */
export function isEnveloped(contentType: string | null): boolean {
  if (contentType === null) return false;
  // gRPC-web "text" bodies are base64 of the envelopes, not envelopes: meter them as a
  // plain body, or the base64 characters would be read as a huge message length.
  if (contentType.startsWith("application/grpc-web-text")) return false;
  return contentType.startsWith("application/grpc") ||
    contentType.startsWith("application/connect+");
}

export class BodyMeter {
  private total = 0;
  /** Octets of the current envelope prefix seen (0..5), or 5 while inside a message. */
  private prefixSeen = 0;
  private msgLen = 0;
  /** Octets of the current message still to come. */
  private remaining = 0;

  constructor(private readonly enveloped: boolean, private readonly limits: HttpLimits) {}

  /** Account for `chunk`; returns an error once a cap is passed, else null. */
  add(chunk: Uint8Array, start = 0, end = chunk.length): BodyTooLargeError | null {
    const n = end - start;
    if (!this.enveloped) {
      this.total += n;
      return this.total > this.limits.maxBodyBytes
        ? new BodyTooLargeError(this.limits.maxBodyBytes, "body")
        : null;
    }
    let p = start;
    while (p < end) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, end - p);
        this.remaining -= take;
        p += take;
        continue;
      }
      // Reading a prefix: octet 0 is flags, 1..4 the big-endian length.
      const i = this.prefixSeen;
      if (i === 0) this.msgLen = 0;
      else this.msgLen = this.msgLen * 256 + chunk[p];
      p++;
      this.prefixSeen = i + 1;
      if (this.prefixSeen === 5) {
        this.prefixSeen = 0;
        if (this.msgLen > this.limits.maxMessageBytes) {
          return new BodyTooLargeError(this.limits.maxMessageBytes, "message");
        }
        this.remaining = this.msgLen;
      }
    }
    return null;
  }
}
