/**
 * TLS for the client listeners: etcd's --cert-file/--key-file/--trusted-ca-file read as PEM
 * text for `serveHttp({tls})`. Checked before the member starts so a bad file or an
 * unservable setting fails at start with a ConfigError instead of on the first connection.
 */
import type { HttpTlsOptions } from "../http/server.ts";
import { ConfigError, type ServerConfig } from "../server/config.ts";

/**
 * The TLS options for https client URLs, or undefined when every client URL is plain http
 * (then --client-cert-auth and the files change nothing; see {@link clientTlsWarnings}).
 *
 * As etcd 3.4's TLSInfo.ServerConfig: with --trusted-ca-file, or with --client-cert-auth,
 * every https handshake requires a client certificate that chains to the trusted CA
 * (RequireAndVerifyClientCert). Only --client-cert-auth additionally lets a request without
 * a token act as the user named by the certificate's Common Name (see tls_auth.ts).
 * --client-cert-auth without --trusted-ca-file is refused: etcd would verify against the
 * system's roots, which is almost never what an operator means.
 */
export async function clientTls(cfg: ServerConfig): Promise<HttpTlsOptions | undefined> {
  if (!cfg.listenClientUrls.some((u) => u.protocol === "https:")) return undefined;
  if (cfg.tls.certFile === "" || cfg.tls.keyFile === "") {
    throw new ConfigError("https client urls need --cert-file and --key-file");
  }
  if (cfg.tls.clientCertAuth && cfg.tls.trustedCaFile === "") {
    throw new ConfigError("--client-cert-auth needs --trusted-ca-file");
  }
  const cert = await readPem("--cert-file", cfg.tls.certFile, "CERTIFICATE");
  const key = await readPem("--key-file", cfg.tls.keyFile, "PRIVATE KEY");
  if (cfg.tls.trustedCaFile === "") return { cert, key };
  const ca = await readPem("--trusted-ca-file", cfg.tls.trustedCaFile, "CERTIFICATE");
  return { cert, key, ca, requireClientCert: true };
}

/**
 * etcd's start-up warnings for plain http client URLs given TLS settings, which it ignores
 * for those URLs (embed.configureClientListeners), in the same words.
 */
export function clientTlsWarnings(cfg: ServerConfig): string[] {
  const out: string[] = [];
  for (const u of cfg.listenClientUrls) {
    if (u.protocol !== "http:") continue;
    const url = u.href.replace(/\/$/, "");
    if (cfg.tls.certFile !== "" || cfg.tls.keyFile !== "") {
      out.push(
        `The scheme of client url ${url} is HTTP while peer key/cert files are presented. ` +
          "Ignored key/cert files.",
      );
    }
    if (cfg.tls.clientCertAuth) {
      out.push(
        `The scheme of client url ${url} is HTTP while client cert auth ` +
          "(--client-cert-auth) is enabled. Ignored client cert auth for this url.",
      );
    }
  }
  return out;
}

async function readPem(flag: string, path: string, label: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new ConfigError(`${flag} ${path}: cannot read: ${err}`);
  }
  if (!new RegExp(`-----BEGIN [A-Z ]*${label}-----`).test(text)) {
    throw new ConfigError(`${flag} ${path}: no PEM ${label} block`);
  }
  return text;
}
