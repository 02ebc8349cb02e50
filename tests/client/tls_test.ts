/**
 * The gRPC transport over TLS and mutual TLS, against Concord and etcd 3.4 served with the
 * same throwaway PKI: a client trusting the CA works; a server requiring client
 * certificates refuses a client without one and serves one with one.
 */
import assert from "node:assert/strict";
import { Client, type EtcdError, GrpcCode, grpcTransport } from "../../lib/client/mod.ts";
import { makePki } from "../http/mtls_pki.ts";
import { startTestServer } from "../server/harness.ts";
import { startEtcd } from "../support/etcd.ts";

Deno.test("tls: https endpoints with a trusted CA, and client certificates", async () => {
  const pki = await makePki({ alice: "alice" });
  const read = (p: string) => Deno.readTextFile(p);
  const caCerts = [await read(pki.ca)];
  const cert = await read(pki.clients.alice.cert);
  const key = await read(pki.clients.alice.key);
  const concord = await startTestServer((c) => {
    c.listenClientUrls = [new URL("https://127.0.0.1:0")];
    c.advertiseClientUrls = c.listenClientUrls;
    c.tls.certFile = pki.server.cert;
    c.tls.keyFile = pki.server.key;
    c.tls.trustedCaFile = pki.ca;
    c.tls.clientCertAuth = true;
  });
  const etcd = await startEtcd("default", {
    certFile: pki.server.cert,
    keyFile: pki.server.key,
    trustedCaFile: pki.ca,
    clientCertAuth: true,
    client: pki.clients.alice,
  });
  try {
    for (const [name, url] of [["concord", concord.url], ["etcd", etcd.url]]) {
      const mtls = new Client({
        endpoints: [url],
        transport: grpcTransport({ tls: { caCerts, cert, key } }),
      });
      const noCert = new Client({
        endpoints: [url],
        transport: grpcTransport({ tls: { caCerts } }),
        timeoutMs: 1000,
      });
      try {
        await mtls.put("tls", name);
        assert.equal(await mtls.getText("tls"), name, name);
        await assert.rejects(noCert.get("tls"), (e) => {
          const code = (e as EtcdError).code;
          return code === GrpcCode.Unavailable || code === GrpcCode.DeadlineExceeded;
        }, `${name} served a client without a certificate`);
      } finally {
        await mtls.close();
        await noCert.close();
      }
    }
  } finally {
    await concord.close();
    await etcd.stop();
    await Deno.remove(pki.dir, { recursive: true });
  }
});
