/**
 * int64 fields sent as JSON numbers beyond 2^53 (lease ids are ~5e18) must reach the server
 * exactly, on the REST gateway, the direct Connect unary path and Connect's streaming JSON
 * path, as etcd's gateway reads them (JSON.parse alone rounds them to another lease).
 */
import assert from "node:assert/strict";
import { quoteLargeIntegers } from "../../lib/api/json_int64.ts";
import { startTestServer } from "../server/harness.ts";
import { Flag, FrameType } from "../../lib/http/frame.ts";
import { RawH2, req } from "../http/h2_raw_client.ts";

/** A lease id a double cannot hold: Number() rounds it to 5725098008849044480. */
const ID = "5725098008849044745";

Deno.test("quoteLargeIntegers: only integer literals beyond 2^53 become strings", () => {
  assert.notEqual(String(Number(ID)), ID); // the precondition of the whole fix
  assert.equal(quoteLargeIntegers(`{"ID":${ID}}`), `{"ID":"${ID}"}`);
  assert.equal(quoteLargeIntegers(`{"a":-${ID},"b":[${ID}]}`), `{"a":"-${ID}","b":["${ID}"]}`);
  // safe integers, decimals and exponents, digits in strings (escaped quotes too) untouched
  for (
    const same of [
      `{"a":9007199254740991,"b":-9007199254740991}`,
      `{"a":1234567890123456.5,"b":12345678901234567e2}`,
      `{"k":"${ID}","e":"\\"${ID}"}`,
      `{"TTL":60}`,
    ]
  ) assert.equal(quoteLargeIntegers(same), same);
  assert.equal(quoteLargeIntegers(`{"a":9007199254740993}`), `{"a":"9007199254740993"}`);
  assert.equal(quoteLargeIntegers(`[18446744073709551615 ]`), `["18446744073709551615" ]`);
});

async function post(url: string, path: string, body: string, type = "application/json") {
  const r = await fetch(url + path, { method: "POST", body, headers: { "content-type": type } });
  return { status: r.status, json: await r.json() };
}

Deno.test("gateway and Connect JSON: lease ids sent as numbers beyond 2^53 are exact", async () => {
  const s = await startTestServer();
  try {
    const u = s.url;
    const grant = await post(u, "/v3/lease/grant", `{"TTL":60,"ID":"${ID}"}`);
    assert.equal(grant.json.ID, ID);
    // gateway: put, timetolive, keepalive with the id as a JSON number
    const put = await post(u, "/v3/kv/put", `{"key":"YQ==","value":"Yg==","lease":${ID}}`);
    assert.equal(put.status, 200, JSON.stringify(put.json));
    const ttl = await post(u, "/v3/lease/timetolive", `{"ID":${ID},"keys":true}`);
    assert.equal(ttl.json.ID, ID);
    assert.deepEqual(ttl.json.keys, ["YQ=="]);
    const ka = await post(u, "/v3/lease/keepalive", `{"ID":${ID}}`);
    assert.equal(ka.json.result?.ID, ID, JSON.stringify(ka.json));
    // Connect unary JSON (camelCase names, the direct path)
    const c = await post(u, "/etcdserverpb.Lease/LeaseTimeToLive", `{"ID":${ID}}`);
    assert.equal(c.status, 200, JSON.stringify(c.json));
    assert.equal(c.json.ID, ID);
    // Connect streaming JSON (LeaseKeepAlive through Connect's router, over HTTP/2 as bidi
    // streams need): one enveloped message, END_STREAM
    const msg = new TextEncoder().encode(`{"ID":${ID}}`);
    const env = new Uint8Array(5 + msg.length);
    new DataView(env.buffer).setUint32(1, msg.length);
    env.set(msg, 5);
    const h2 = await RawH2.connect(Number(new URL(u).port));
    try {
      await h2.headers(
        1,
        req("/etcdserverpb.Lease/LeaseKeepAlive", [["content-type", "application/connect+json"]]),
        Flag.END_HEADERS,
      );
      await h2.frame(FrameType.DATA, Flag.END_STREAM, 1, env);
      const frames = await h2.until((f) => f.type === FrameType.DATA && f.sid === 1);
      const data = frames[frames.length - 1].payload;
      const len = new DataView(data.buffer, data.byteOffset).getUint32(1);
      const resp = JSON.parse(new TextDecoder().decode(data.subarray(5, 5 + len)));
      assert.equal(resp.ID, ID, JSON.stringify(resp));
      assert.ok(Number(resp.TTL) > 0, JSON.stringify(resp));
    } finally {
      h2.close();
    }
    // gateway revoke by number: the lease and its key are gone
    const revoke = await post(u, "/v3/lease/revoke", `{"ID":${ID}}`);
    assert.equal(revoke.status, 200, JSON.stringify(revoke.json));
    const range = await post(u, "/v3/kv/range", `{"key":"YQ=="}`);
    assert.equal(range.json.kvs, undefined);
  } finally {
    await s.close();
  }
});
