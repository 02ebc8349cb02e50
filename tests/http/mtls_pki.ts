/**
 * A throwaway PKI for the client-certificate tests, made with openssl (EC P-256, so it takes
 * a few tens of milliseconds): a CA, a server certificate for IP 127.0.0.1, client
 * certificates with chosen Common Names, and a second CA with a client of its own. Every
 * certificate is X.509 v3 (webpki, under Deno's TLS, rejects v1).
 */

const dec = new TextDecoder();

/** File paths of one certificate and its key. */
export interface CertFiles {
  cert: string;
  key: string;
}

export interface Pki {
  dir: string;
  /** The CA that signs the server and the trusted clients. */
  ca: string;
  server: CertFiles;
  /** Clients signed by `ca`, by the name given to makePki. */
  clients: Record<string, CertFiles>;
  /** A client with CN "mallory" signed by a second CA the server does not trust. */
  stranger: CertFiles;
  /** CN "eve", signed by `ca` but for serverAuth only: not a client certificate. */
  serverOnly: CertFiles;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (out.code !== 0) throw new Error(`openssl ${args[0]}: ${dec.decode(out.stderr)}`);
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

async function makeCa(dir: string, name: string): Promise<void> {
  await openssl(dir, [
    ...["req", "-x509", ...EC, "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "2"],
    ...["-subj", `/CN=${name}`, "-addext", "basicConstraints=critical,CA:TRUE"],
    ...["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
  ]);
}

/**
 * Signs a leaf for `subject` with CA `ca`; `ext` lines go to its v3 extensions. An empty
 * subject ("/") gives a certificate without a Common Name.
 */
async function makeLeaf(
  dir: string,
  ca: string,
  name: string,
  subject: string,
  ext: string[],
): Promise<CertFiles> {
  await openssl(dir, [
    ...["req", "-new", ...EC, "-keyout", `${name}.key`, "-out", `${name}.csr`],
    ...["-subj", subject],
  ]);
  await Deno.writeTextFile(`${dir}/${name}.ext`, ext.join("\n") + "\n");
  await openssl(dir, [
    ...["x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`],
    ...["-set_serial", String(Date.now() + name.length), "-out", `${name}.crt`, "-days", "2"],
    ...["-extfile", `${name}.ext`],
  ]);
  return { cert: `${dir}/${name}.crt`, key: `${dir}/${name}.key` };
}

const CLIENT_EXT = ["basicConstraints=CA:FALSE", "extendedKeyUsage=clientAuth"];

/**
 * Writes the PKI into a fresh temp dir (remove `pki.dir` when done). `clients` maps a file
 * name to the CN of its certificate ("" for none).
 */
export async function makePki(clients: Record<string, string>): Promise<Pki> {
  const dir = await Deno.makeTempDir({ prefix: "concord-mtls-" });
  try {
    await Promise.all([makeCa(dir, "ca"), makeCa(dir, "otherca")]);
    const server = await makeLeaf(dir, "ca", "server", "/CN=server", [
      "subjectAltName=IP:127.0.0.1",
      "basicConstraints=CA:FALSE",
      "extendedKeyUsage=serverAuth,clientAuth",
    ]);
    const made: Record<string, CertFiles> = {};
    for (const [name, cn] of Object.entries(clients)) {
      made[name] = await makeLeaf(dir, "ca", name, cn === "" ? "/O=nocn" : `/CN=${cn}`, CLIENT_EXT);
    }
    const stranger = await makeLeaf(dir, "otherca", "stranger", "/CN=mallory", CLIENT_EXT);
    const serverOnly = await makeLeaf(dir, "ca", "serveronly", "/CN=eve", [
      "basicConstraints=CA:FALSE",
      "extendedKeyUsage=serverAuth",
    ]);
    return { dir, ca: `${dir}/ca.crt`, server, clients: made, stranger, serverOnly };
  } catch (e) {
    await Deno.remove(dir, { recursive: true });
    throw e;
  }
}
