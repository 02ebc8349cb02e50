/**
 * ctl's TLS flags (--cacert, --cert, --key) against an https etcd 3.4 and an https Concord
 * member, both requiring client certificates: with the certificate both tools print the same
 * (read from the same server); an empty --cert is refused as etcdctl refuses it.
 */
import assert from "node:assert/strict";
import { makePki, type Pki } from "../http/mtls_pki.ts";
import { startEtcd } from "../support/etcd.ts";
import { startTestServer } from "../server/harness.ts";
import { runConcordCtl, runEtcdctl } from "./ctl_compat.ts";

function tlsArgs(pki: Pki): string[] {
  const c = pki.clients.alice;
  return ["--cacert", pki.ca, "--cert", c.cert, "--key", c.key];
}

async function compareOn(url: string, pki: Pki): Promise<void> {
  const tls = tlsArgs(pki);
  const put = await runConcordCtl(url, [...tls, "put", "tls-key", "v"]);
  assert.deepEqual([put.code, put.stdout, put.stderr], [0, "OK\n", ""]);
  for (
    const args of [
      ["get", "tls-key", "-w", "json"],
      ["get", "tls-key"],
      ["member", "list", "-w", "json"],
      ["endpoint", "hashkv", "-w", "json"],
    ]
  ) {
    const [want, got] = await Promise.all([
      runEtcdctl(url, [...tls, ...args]),
      runConcordCtl(url, [...tls, ...args]),
    ]);
    assert.deepEqual(
      { code: got.code, stdout: got.stdout },
      { code: want.code, stdout: want.stdout },
      `ctl ${args.join(" ")} on ${url}`,
    );
  }
  const empty = await runConcordCtl(url, ["--cert", "", "get", "k"]);
  assert.deepEqual([empty.code, empty.stderr], [
    128,
    "Error: empty string is passed to --cert option\n",
  ]);
}

Deno.test("ctl over TLS with a client certificate, on etcd and on Concord", async () => {
  const pki = await makePki({ alice: "alice" });
  try {
    const etcd = await startEtcd("e", {
      certFile: pki.server.cert,
      keyFile: pki.server.key,
      trustedCaFile: pki.ca,
      clientCertAuth: true,
      client: pki.clients.alice,
    });
    try {
      await compareOn(etcd.url, pki);
    } finally {
      await etcd.stop();
    }
    const s = await startTestServer((c) => {
      c.listenClientUrls = [new URL("https://127.0.0.1:0")];
      c.tls = {
        certFile: pki.server.cert,
        keyFile: pki.server.key,
        trustedCaFile: pki.ca,
        clientCertAuth: true,
      };
    });
    try {
      await compareOn(s.url, pki);
    } finally {
      await s.close();
    }
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
});
