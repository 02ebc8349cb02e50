/**
 * Runs a real etcd 3.4 (Debian's `etcd`, which .ci/run installs) for the tests that compare
 * Concord with it. One launcher, so every comparison starts etcd the same way: free loopback
 * ports, a temp data dir, quiet logs, and `start` resolving only once etcd answers /health.
 */

/** A running single-member etcd. */
export interface EtcdProcess {
  /** The client URL, `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** The process id (for CPU and memory readings). */
  readonly pid: number;
  /** Kills etcd, waits for it, and removes its data dir. */
  stop(): Promise<void>;
}

/** Ports freePort handed out in this process (the tests run in one process). */
const handedOut = new Set<number>();

/**
 * A loopback port that was free a moment ago, and never one this process was given before:
 * the kernel may hand a just-released port out again at once, and two servers started side by
 * side on one port (an etcd and a Concord cluster started together) make one of them fail to
 * bind while the other answers its health check.
 */
export function freePort(): number {
  for (let tries = 0;; tries++) {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
    if (tries >= 1000) throw new Error("freePort: no loopback port left that was not handed out");
  }
}

/** Client TLS for the started etcd (PEM file paths), as its own flags name them. */
export interface EtcdTls {
  certFile: string;
  keyFile: string;
  trustedCaFile: string;
  clientCertAuth: boolean;
  /** The certificate the readiness check presents when client certificates are required. */
  client: { cert: string; key: string };
}

/**
 * Starts etcd and waits (20 s at most) until /health says true. Fails with a clear message
 * when etcd is not installed, rather than letting a comparison pass without its peer. With
 * `tls`, the client URL is https with etcd's TLS flags.
 */
export async function startEtcd(name = "default", tls?: EtcdTls): Promise<EtcdProcess> {
  // A port free a moment ago can be taken before etcd binds it (another process of the test,
  // e.g. a Concord member listening on port 0 beside it): etcd then exits at once, and only
  // that case is tried again, on fresh ports.
  for (let attempt = 1;; attempt++) {
    try {
      return await startEtcdOnce(name, tls);
    } catch (err) {
      if (!(err instanceof EtcdExitedError) || !err.portTaken || attempt >= 3) throw err;
    }
  }
}

/** etcd exited before it answered /health; `stderr` says why. */
class EtcdExitedError extends Error {
  constructor(readonly code: number, readonly stderr: string) {
    super(`etcd exited with code ${code} before it became healthy: ${stderr.trim().slice(-800)}`);
  }

  /** etcd could not bind one of its ports. */
  get portTaken(): boolean {
    return this.stderr.includes("address already in use");
  }
}

async function startEtcdOnce(name: string, tls: EtcdTls | undefined): Promise<EtcdProcess> {
  const dir = await Deno.makeTempDir({ prefix: "concord-etcd-" });
  const url = `${tls ? "https" : "http"}://127.0.0.1:${freePort()}`;
  const peer = `http://127.0.0.1:${freePort()}`;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("etcd", {
      args: [
        `--name=${name}`,
        `--data-dir=${dir}/etcd`,
        `--listen-client-urls=${url}`,
        `--advertise-client-urls=${url}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=${name}=${peer}`,
        ...(tls
          ? [
            `--cert-file=${tls.certFile}`,
            `--key-file=${tls.keyFile}`,
            `--trusted-ca-file=${tls.trustedCaFile}`,
            ...(tls.clientCertAuth ? ["--client-cert-auth"] : []),
          ]
          : []),
        "--logger=zap",
        "--log-level=error",
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    await Deno.remove(dir, { recursive: true });
    throw new Error(`cannot run etcd (apt-get install etcd-server): ${err}`);
  }
  // errors only (--log-level=error): read to the end, which comes when etcd exits
  const stderr = new Response(child.stderr).text();
  let exit: Deno.CommandStatus | undefined;
  const status = child.status.then((s) => {
    exit = s;
    return s;
  });
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already exited
    }
    await status;
    await stderr;
    await Deno.remove(dir, { recursive: true });
  };
  const client = tls
    ? Deno.createHttpClient({
      caCerts: [await Deno.readTextFile(tls.trustedCaFile)],
      cert: await Deno.readTextFile(tls.client.cert),
      key: await Deno.readTextFile(tls.client.key),
    })
    : undefined;
  try {
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (exit !== undefined) {
        const text = await stderr;
        await Deno.remove(dir, { recursive: true });
        throw new EtcdExitedError(exit.code, text);
      }
      try {
        const r = await fetch(`${url}/health`, client ? { client } : {});
        if (r.status === 200 && (await r.text()).includes("true")) break;
        await r.body?.cancel();
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await stop();
        throw new Error(
          `etcd did not become healthy in 20 s; its errors: ${(await stderr).slice(-800)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    client?.close();
  }
  return { url, pid: child.pid, stop };
}
