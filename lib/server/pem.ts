/**
 * PEM key files for JWT signing, as etcd's operators have them: PKCS#8 ("PRIVATE KEY"),
 * PKCS#1 ("RSA PRIVATE KEY", what `openssl genrsa -traditional` writes), SEC1
 * ("EC PRIVATE KEY", what `openssl ecparam -genkey` writes), SPKI ("PUBLIC KEY") and PKCS#1
 * public keys ("RSA PUBLIC KEY"). WebCrypto imports only PKCS#8 and SPKI, so the older forms
 * are wrapped into those, in DER, here.
 */

/** One PEM block: its label and its DER bytes. */
export interface PemBlock {
  label: string;
  der: Uint8Array<ArrayBuffer>;
}

/** Reads the first PEM block of a file's text; throws naming what was expected. */
export function decodePem(text: string): PemBlock {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(text);
  if (!m) throw new Error("no PEM block found (expected -----BEGIN …----- … -----END …-----)");
  const body = m[2].split("\n").filter((l) => !l.includes(":")).join("").replace(/\s+/g, "");
  const bin = atob(body);
  const der = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) der[i] = bin.charCodeAt(i);
  return { label: m[1], der };
}

function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return [0x80 | bytes.length, ...bytes];
}

function der(tag: number, ...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const len = parts.reduce((s, p) => s + p.length, 0);
  const head = [tag, ...derLength(len)];
  const out = new Uint8Array(head.length + len);
  out.set(head);
  let at = head.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const SEQ = 0x30, INT = 0x02, OCTETS = 0x04, BITS = 0x03, NULL = 0x05, OID = 0x06;
const bytes = (...v: number[]) => Uint8Array.from(v);
/** 1.2.840.113549.1.1.1 rsaEncryption */
const OID_RSA = bytes(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01);
/** 1.2.840.10045.2.1 id-ecPublicKey */
const OID_EC = bytes(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01);
/** Named curve OIDs by WebCrypto name. */
const CURVE_OIDS: Record<string, Uint8Array> = {
  "P-256": bytes(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07),
  "P-384": bytes(0x2b, 0x81, 0x04, 0x00, 0x22),
  "P-521": bytes(0x2b, 0x81, 0x04, 0x00, 0x23),
};

function rsaAlgorithmId(): Uint8Array {
  return der(SEQ, der(OID, OID_RSA), der(NULL));
}

/** Wraps a PKCS#1 RSAPrivateKey in PKCS#8. */
export function pkcs1ToPkcs8(pkcs1: Uint8Array): Uint8Array<ArrayBuffer> {
  return der(SEQ, der(INT, bytes(0)), rsaAlgorithmId(), der(OCTETS, pkcs1));
}

/** Wraps a PKCS#1 RSAPublicKey in SPKI. */
export function pkcs1PublicToSpki(pkcs1: Uint8Array): Uint8Array<ArrayBuffer> {
  return der(SEQ, rsaAlgorithmId(), der(BITS, bytes(0), pkcs1));
}

/** Wraps a SEC1 ECPrivateKey in PKCS#8 for the named curve. */
export function sec1ToPkcs8(sec1: Uint8Array, curve: string): Uint8Array<ArrayBuffer> {
  const oid = CURVE_OIDS[curve];
  if (!oid) throw new Error(`unsupported curve ${curve}`);
  return der(SEQ, der(INT, bytes(0)), der(SEQ, der(OID, OID_EC), der(OID, oid)), der(OCTETS, sec1));
}

/** A private key as PKCS#8 DER, whatever PEM form it came in. */
export function privateKeyPkcs8(text: string, curve?: string): Uint8Array<ArrayBuffer> {
  const block = decodePem(text);
  switch (block.label) {
    case "PRIVATE KEY":
      return block.der;
    case "RSA PRIVATE KEY":
      return pkcs1ToPkcs8(block.der);
    case "EC PRIVATE KEY":
      if (!curve) throw new Error("an EC PRIVATE KEY needs its curve (from the ES sign method)");
      return sec1ToPkcs8(block.der, curve);
    default:
      throw new Error(`a "${block.label}" PEM block is not a private key`);
  }
}

/** A public key as SPKI DER, whatever PEM form it came in. */
export function publicKeySpki(text: string): Uint8Array<ArrayBuffer> {
  const block = decodePem(text);
  switch (block.label) {
    case "PUBLIC KEY":
      return block.der;
    case "RSA PUBLIC KEY":
      return pkcs1PublicToSpki(block.der);
    default:
      throw new Error(`a "${block.label}" PEM block is not a public key`);
  }
}
