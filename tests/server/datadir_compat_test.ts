import assert from "node:assert/strict";
import { startServer } from "../../lib/api/member_server.ts";
import { Client } from "../../lib/client/mod.ts";
import { DB } from "../../lib/backend/db.ts";
import { RealDisk } from "../../lib/io/real_disk.ts";
import { testConfig } from "./harness.ts";
import { DATADIR_KEYS, datadirValue } from "./fixtures/datadir_v1_workload.ts";

const FIXTURE = new URL("./fixtures/datadir_v1/", import.meta.url).pathname;
const dec = new TextDecoder();

/** Unpacks the gzipped files of fixtures/datadir_v1 into a fresh temp dir. */
async function unpack(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "concord-datadir-v1-" });
  const walk = async (rel: string): Promise<void> => {
    for await (const e of Deno.readDir(`${FIXTURE}${rel}`)) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) {
        await walk(r);
        continue;
      }
      const gz = await Deno.readFile(`${FIXTURE}${r}`);
      const raw = new Uint8Array(
        await new Response(new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip")))
          .arrayBuffer(),
      );
      await Deno.mkdir(`${dir}/${rel}`, { recursive: true });
      await Deno.writeFile(`${dir}/${r.replace(/\.gz$/, "")}`, raw);
    }
  };
  await walk("");
  return dir;
}

/** Every fx/ key and value a member serves, in key order. */
async function served(client: Client): Promise<[string, Uint8Array][]> {
  const r = await client.range("fx/", { prefix: true });
  return r.kvs.map((kv) => [dec.decode(kv.key), kv.value]);
}

Deno.test("data dir written before the page layout change starts, serves its history, and takes writes", async () => {
  const dir = await unpack();
  try {
    const want = DATADIR_KEYS.filter((k) => !k.deleted).map((
      k,
    ) => [k.key, datadirValue(k, 1)] as [string, Uint8Array]);
    let server = await startServer(testConfig(dir), { log: () => {} });
    let client = new Client({ endpoints: server.clientUrls[0] });
    try {
      await server.member.ready;
      assert.deepEqual(await served(client), want);
      const st = await client.maintenance.status();
      assert.equal(st.header!.revision, 113n);
      // The compaction at 97 holds: 96 is gone, 97 reads the first round's last keys.
      await assert.rejects(client.range("fx/", { prefix: true, revision: 96 }), /compacted/);
      const at97 = await client.range("fx/", { prefix: true, revision: 97 });
      assert.equal(at97.kvs.length, DATADIR_KEYS.length);
      // New writes go through the current page layout.
      for (const k of DATADIR_KEYS) await client.put(k.key, datadirValue(k, 2));
    } finally {
      await client.close();
      await server.close();
    }
    const db = await DB.open(new RealDisk(), `${dir}/member/snap/db`);
    try {
      assert.deepEqual(db.check(), []);
    } finally {
      await db.close();
    }
    server = await startServer(testConfig(dir), { log: () => {} });
    client = new Client({ endpoints: server.clientUrls[0] });
    try {
      await server.member.ready;
      assert.deepEqual(
        await served(client),
        DATADIR_KEYS.map((k) => [k.key, datadirValue(k, 2)] as [string, Uint8Array]),
      );
      const old = await client.range(DATADIR_KEYS[47].key, { revision: 113 });
      assert.deepEqual(old.kvs[0].value, datadirValue(DATADIR_KEYS[47], 1));
    } finally {
      await client.close();
      await server.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
