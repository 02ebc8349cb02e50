/**
 * etcd's JWT tokens (`--auth-token jwt,sign-method=…,priv-key=…,pub-key=…,ttl=…`): claims
 * `{username, revision, exp}`, signed with RS256/384/512, PS256/384/512, ES256/384/512 or
 * HS256/384/512 through WebCrypto. A member given only a public key verifies but cannot issue
 * (etcd's verify-only mode). Tokens are stateless, so invalidation is by expiry and by the
 * auth revision check the server makes on each request.
 */
import type { Clock } from "../io/clock.ts";
import { ConfigError, type ServerConfig } from "./config.ts";
import { privateKeyPkcs8, publicKeySpki } from "./pem.ts";
import type { TokenInfo, TokenProvider } from "./token.ts";

type Family = "RS" | "PS" | "ES" | "HS";

interface Method {
  family: Family;
  hash: "SHA-256" | "SHA-384" | "SHA-512";
  bits: 256 | 384 | 512;
}

function parseMethod(name: string): Method {
  const m = /^(RS|PS|ES|HS)(256|384|512)$/.exec(name);
  if (!m) throw new Error(`unsupported JWT sign method "${name}"`);
  const bits = Number(m[2]) as 256 | 384 | 512;
  return { family: m[1] as Family, hash: `SHA-${bits}`, bits };
}

function curveOf(method: Method): string {
  return method.bits === 512 ? "P-521" : `P-${method.bits}`;
}

function importParams(
  method: Method,
): RsaHashedImportParams | EcKeyImportParams | HmacImportParams {
  switch (method.family) {
    case "RS":
      return { name: "RSASSA-PKCS1-v1_5", hash: method.hash };
    case "PS":
      return { name: "RSA-PSS", hash: method.hash };
    case "ES":
      return { name: "ECDSA", namedCurve: curveOf(method) };
    case "HS":
      return { name: "HMAC", hash: method.hash };
  }
}

function signParams(method: Method): AlgorithmIdentifier | RsaPssParams | EcdsaParams {
  switch (method.family) {
    case "RS":
      return { name: "RSASSA-PKCS1-v1_5" };
    case "PS":
      return { name: "RSA-PSS", saltLength: method.bits / 8 };
    case "ES":
      return { name: "ECDSA", hash: method.hash };
    case "HS":
      return { name: "HMAC" };
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** base64url without padding, as JWS uses. */
export function base64url(data: Uint8Array): string {
  let bin = "";
  for (const b of data) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Decodes base64url (padding optional); throws on bad input. */
export function fromBase64url(text: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error("invalid base64url");
  const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Key material for a JWT provider: PEM (or raw secret for HS) file contents. */
export interface JwtKeys {
  /** Private key PEM, or the HMAC secret for HS methods. */
  privateKey?: Uint8Array;
  /** Public key PEM (RS/PS/ES). */
  publicKey?: Uint8Array;
}

/** Options for `JwtTokenProvider.create`. */
export interface JwtOptions {
  signMethod: string;
  keys: JwtKeys;
  ttlSeconds: number;
  clock: Clock;
}

/** Signs and verifies etcd-shaped JWTs. */
export class JwtTokenProvider implements TokenProvider {
  readonly #method: Method;
  readonly #methodName: string;
  readonly #signKey: CryptoKey | undefined;
  readonly #verifyKey: CryptoKey;
  readonly #ttlSeconds: number;
  readonly #clock: Clock;

  private constructor(
    methodName: string,
    method: Method,
    signKey: CryptoKey | undefined,
    verifyKey: CryptoKey,
    ttlSeconds: number,
    clock: Clock,
  ) {
    this.#methodName = methodName;
    this.#method = method;
    this.#signKey = signKey;
    this.#verifyKey = verifyKey;
    this.#ttlSeconds = ttlSeconds;
    this.#clock = clock;
  }

  /** Imports the keys; throws a clear error for a key that does not fit the method. */
  static async create(options: JwtOptions): Promise<JwtTokenProvider> {
    const method = parseMethod(options.signMethod);
    const params = importParams(method);
    let signKey: CryptoKey | undefined;
    let verifyKey: CryptoKey;
    if (method.family === "HS") {
      const secret = options.keys.privateKey ?? options.keys.publicKey;
      if (!secret || secret.length === 0) throw new Error("HS sign methods need a secret key file");
      const raw = new Uint8Array(secret);
      signKey = await crypto.subtle.importKey("raw", raw, params, false, ["sign", "verify"]);
      verifyKey = signKey;
    } else {
      if (options.keys.privateKey) {
        const pkcs8 = privateKeyPkcs8(decoder.decode(options.keys.privateKey), curveOf(method));
        signKey = await crypto.subtle.importKey("pkcs8", pkcs8, params, true, ["sign"]);
      }
      if (options.keys.publicKey) {
        const spki = publicKeySpki(decoder.decode(options.keys.publicKey));
        verifyKey = await crypto.subtle.importKey("spki", spki, params, true, ["verify"]);
      } else if (signKey) {
        // Derive the public half from the private key through its JWK form.
        const jwk = await crypto.subtle.exportKey("jwk", signKey);
        delete jwk.d, delete jwk.p, delete jwk.q, delete jwk.dp, delete jwk.dq, delete jwk.qi;
        jwk.key_ops = ["verify"];
        verifyKey = await crypto.subtle.importKey("jwk", jwk, params, true, ["verify"]);
      } else {
        throw new Error(`${options.signMethod} needs priv-key or pub-key`);
      }
    }
    return new JwtTokenProvider(
      options.signMethod,
      method,
      signKey,
      verifyKey,
      options.ttlSeconds,
      options.clock,
    );
  }

  /** True when this member holds only a public key and cannot issue tokens. */
  get verifyOnly(): boolean {
    return this.#signKey === undefined;
  }

  async assign(
    username: string,
    authRevision: number,
    _simplePrefix = "",
    _index = 0,
  ): Promise<string> {
    if (!this.#signKey) throw new Error("auth: JWT token verify only (no private key)");
    const header = base64url(encoder.encode(JSON.stringify({ alg: this.#methodName, typ: "JWT" })));
    const exp = Math.floor(this.#clock.wallNow() / 1000) + this.#ttlSeconds;
    const claims = base64url(
      encoder.encode(JSON.stringify({ exp, revision: authRevision, username })),
    );
    const input = encoder.encode(`${header}.${claims}`);
    const sig = await crypto.subtle.sign(signParams(this.#method), this.#signKey, input);
    return `${header}.${claims}.${base64url(new Uint8Array(sig))}`;
  }

  async info(token: string, _currentAuthRevision = 0): Promise<TokenInfo | undefined> {
    const parts = token.split(".");
    if (parts.length !== 3) return undefined;
    try {
      const header = JSON.parse(decoder.decode(fromBase64url(parts[0])));
      if (header?.alg !== this.#methodName) return undefined;
      const ok = await crypto.subtle.verify(
        signParams(this.#method),
        this.#verifyKey,
        fromBase64url(parts[2]),
        encoder.encode(`${parts[0]}.${parts[1]}`),
      );
      if (!ok) return undefined;
      const claims = JSON.parse(decoder.decode(fromBase64url(parts[1])));
      if (typeof claims?.username !== "string" || typeof claims?.exp !== "number") return undefined;
      if (claims.exp <= this.#clock.wallNow() / 1000) return undefined;
      const revision = typeof claims.revision === "number" ? claims.revision : 0;
      return { username: claims.username, revision };
    } catch {
      return undefined;
    }
  }

  invalidateUser(): void {
    // Stateless: tokens of a changed user fail the auth revision check instead.
  }

  invalidateAll(): void {}

  close(): void {}
}

/**
 * etcd's `--auth-token jwt,…`: reads the key files and imports them (async, hence here rather
 * than in the constructor); null for simple tokens. A key that is missing or does not fit the
 * sign method is a ConfigError naming the flag.
 */
export async function jwtProviderFor(
  cfg: ServerConfig,
  clock: Clock,
): Promise<TokenProvider | null> {
  const t = cfg.authToken;
  if (t.kind !== "jwt") return null;
  const read = async (what: string, path: string | undefined) => {
    if (path === undefined || path === "") return undefined;
    try {
      return await Deno.readFile(path);
    } catch (err) {
      throw new ConfigError(`--auth-token jwt: cannot read ${what} ${path}: ${err}`);
    }
  };
  const privateKey = await read("priv-key", t.privKey);
  const publicKey = await read("pub-key", t.pubKey);
  if (!privateKey && !publicKey) {
    throw new ConfigError("--auth-token jwt needs priv-key= (and pub-key=) or a secret key file");
  }
  try {
    return await JwtTokenProvider.create({
      signMethod: t.signMethod,
      keys: { privateKey, publicKey },
      ttlSeconds: t.ttlSeconds,
      clock,
    });
  } catch (err) {
    throw new ConfigError(
      `--auth-token jwt,sign-method=${t.signMethod}: ${(err as Error).message}`,
    );
  }
}
