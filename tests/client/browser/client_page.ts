/**
 * The page script of the client's browser test: lib/client/browser.ts as a web application
 * would use it (bundled by the test with `deno bundle`), driven through `globalThis.concord`.
 * It answers in JSON (no bigints) so puppeteer can carry the results back.
 */
import { Client, cmp, Errors, type EtcdError, op, text } from "../../../lib/client/browser.ts";

/** What one run reports. */
export interface PageReport {
  get: string | undefined;
  missing: boolean;
  txn: boolean;
  range: string[];
  watched: string[];
  ttl: number;
  leaseKeys: string[];
  error: { code: number; message: string; isEmptyKey: boolean };
}

async function run(url: string): Promise<PageReport> {
  const c = new Client({ endpoints: [url] });
  try {
    const w = c.watch("br/", { prefix: true });
    await w.ready;
    await c.put("br/a", "1");
    const get = await c.getText("br/a");
    const missing = (await c.get("br/none")) === undefined;
    const tx = await c.txn().if(cmp.value("br/a", "=", "1")).then(op.put("br/b", "2")).commit();
    const range = (await c.range("br/", { prefix: true })).kvs.map((kv) => text(kv.key));
    const watched: string[] = [];
    for await (const r of w) {
      for (const e of r.events) watched.push(`${text(e.kv!.key)}=${text(e.kv!.value)}`);
      if (watched.length >= 2) break;
    }
    const { ID } = await c.lease.grant(30);
    const ka = await c.lease.keepAliveOnce(ID);
    await c.put("br/l", "x", { lease: ID });
    const leaseKeys = (await c.lease.timeToLive(ID, { keys: true })).keys.map(text);
    let error = { code: 0, message: "no error", isEmptyKey: false };
    try {
      await c.put("", "x");
    } catch (e) {
      const err = e as EtcdError;
      error = { code: err.code, message: err.message, isEmptyKey: Errors.emptyKey.is(err) };
    }
    return {
      get,
      missing,
      txn: tx.succeeded,
      range,
      watched,
      ttl: Number(ka.TTL),
      leaseKeys,
      error,
    };
  } finally {
    await c.close();
  }
}

/** A client left open after `watchThenCancel`, so only the cancel can free the watch. */
let held: Client | undefined;

/** Starts a watch, cancels it once created, and iterates it to its end; the client stays open. */
async function watchThenCancel(url: string): Promise<void> {
  held = new Client({ endpoints: [url] });
  const w = held.watch("cancelled/", { prefix: true });
  await w.ready;
  w.cancel();
  for await (const _ of w) throw new Error("a cancelled watch delivered a response");
}

/** Closes the client `watchThenCancel` left open. */
async function closeHeld(): Promise<void> {
  await held?.close();
  held = undefined;
}

/**
 * A gRPC-web watch by the browser's own fetch, without the client: `body` is the framed
 * create request. Once the first response arrived, the fetch is aborted; resolves with the
 * pending read's failure (its DOMException name).
 */
async function abortedFetch(url: string, body: number[]): Promise<string> {
  const ac = new AbortController();
  const res = await fetch(`${url}/etcdserverpb.Watch/Watch`, {
    method: "POST",
    headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
    body: new Uint8Array(body),
    signal: ac.signal,
  });
  const reader = res.body!.getReader();
  if ((await reader.read()).done) throw new Error("the watch stream ended before responding");
  const pending = reader.read();
  ac.abort();
  try {
    await pending;
    return "no failure";
  } catch (e) {
    return (e as Error).name;
  }
}

(globalThis as unknown as { concord: PageApi }).concord = {
  run,
  watchThenCancel,
  closeHeld,
  abortedFetch,
};

/** What the page offers the test (on `globalThis.concord`). */
export interface PageApi {
  run: typeof run;
  watchThenCancel: typeof watchThenCancel;
  closeHeld: typeof closeHeld;
  abortedFetch: typeof abortedFetch;
}
