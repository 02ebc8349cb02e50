/**
 * TLS for the client listeners: etcd's --cert-file/--key-file read as PEM text for
 * `serveHttp({tls})`. Checked before the member starts so a bad file or an unservable setting
 * fails at start with a ConfigError instead of on the first connection.
 */
import type { HttpTlsOptions } from "../http/server.ts";
import { ConfigError, type ServerConfig } from "../server/config.ts";

/**
 * The TLS options for https client URLs, or undefined when every client URL is plain http.
 * `--client-cert-auth` is refused: Deno.listenTls cannot request or verify client
 * certificates, and serving without them while the operator asked for them would let anyone
 * in. `--trusted-ca-file` alone only names the CA for client certificates, which are never
 * requested here, so it changes nothing (as in etcd without --client-cert-auth).
 */
export async function clientTls(cfg: ServerConfig): Promise<HttpTlsOptions | undefined> {
  if (cfg.tls.clientCertAuth) {
    throw new ConfigError(
      "--client-cert-auth is not supported by Concord: Deno.listenTls cannot request or " +
        "verify client certificates; use auth (users, roles) over https instead",
    );
  }
  if (!cfg.listenClientUrls.some((u) => u.protocol === "https:")) return undefined;
  if (cfg.tls.certFile === "" || cfg.tls.keyFile === "") {
    throw new ConfigError("https client urls need --cert-file and --key-file");
  }
  const cert = await readPem("--cert-file", cfg.tls.certFile, "CERTIFICATE");
  const key = await readPem("--key-file", cfg.tls.keyFile, "PRIVATE KEY");
  return { cert, key };
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
