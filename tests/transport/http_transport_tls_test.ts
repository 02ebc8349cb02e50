/**
 * Peer TLS with client certificates (etcd's --peer-client-cert-auth): members reach each
 * other over https with their certificate as the client's; a dialer whose certificate comes
 * from another CA is refused at the handshake and never delivers anything.
 */
import assert from "node:assert/strict";
import { HttpTransport } from "../../lib/transport/http_transport.ts";
import { servePeers } from "../../lib/transport/peer_server.ts";
import type { PeerTlsOptions } from "../../lib/transport/transport.ts";
import { makePki } from "../http/mtls_pki.ts";
import { connectAll, startMember, stopAll, waitFor } from "./http_cluster.ts";
import { msg, RecordingHost, snapMsg } from "./recording_host.ts";

const CID = 0x77n;

Deno.test("http transport: peer TLS with client certificates", async () => {
  const pki = await makePki({});
  const tls: PeerTlsOptions = {
    certFile: pki.server.cert,
    keyFile: pki.server.key,
    trustedCaFile: pki.ca,
    clientCertAuth: true,
  };
  const ms = await Promise.all(
    [1n, 2n].map((id) => startMember(id, CID, { tls, scheme: "https" })),
  );
  const strangerHost = new RecordingHost(3n, CID);
  const stranger = new HttpTransport({
    host: strangerHost,
    tls: { certFile: pki.stranger.cert, keyFile: pki.stranger.key, trustedCaFile: pki.ca },
    backoffMaxMs: 200,
    log: () => {},
  });
  try {
    connectAll(ms);
    const [a, b] = ms;
    await waitFor(() => a.transport.activeSince(2n) > 0 && b.transport.activeSince(1n) > 0, "up");
    a.transport.send([msg(1n, 2n, 1), msg(1n, 2n, 2)]);
    b.transport.send([msg(2n, 1n, 3)]);
    a.host.snapshotFile = new Uint8Array(500_000).map((_, i) => i * 7);
    a.transport.send([snapMsg(1n, 2n, 4)]);
    await waitFor(() => b.host.received.length === 2 && a.host.received.length === 1, "messages");
    await waitFor(() => a.host.snapshotReports.length === 1, "snapshot");
    assert.deepEqual(b.host.received.map((m) => m.commit), [1, 2]);
    assert.deepEqual(a.host.snapshotReports, [{ to: 2n, ok: true }]);
    assert.deepEqual(b.host.stored[0].bytes, a.host.snapshotFile);
    await waitFor(() => a.transport.stats()[0].rttMs > 0, "a probe's round trip");

    // a client certificate from another CA: refused at the handshake
    stranger.addPeer({ id: 2n, urls: [ms[1].url] });
    await waitFor(() => stranger.stats()[0].failures >= 2, "refused dials");
    assert.equal(stranger.activeSince(2n), 0);
    stranger.send([msg(3n, 2n, 9)]);
    assert.deepEqual(strangerHost.unreachable, [2n]);
    assert.equal(b.host.received.length, 2);

    // the listener refuses a configuration that cannot verify client certificates
    await assert.rejects(
      servePeers({
        host: b.host,
        sink: b.transport,
        tls: { certFile: pki.server.cert, keyFile: pki.server.key, clientCertAuth: true },
      }),
      /needs --peer-trusted-ca-file/,
    );
  } finally {
    await stranger.close();
    await stopAll(ms);
    await Deno.remove(pki.dir, { recursive: true });
  }
});
