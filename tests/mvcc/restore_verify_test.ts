// A restart rebuilds the key index from every page of the key bucket, with the pages'
// checksums computed on a worker for a large file (lib/backend/page_verifier.ts): a page whose
// bytes changed on disk must still fail the open, naming the page, as the pager would.
import assert from "node:assert/strict";
import { RealDisk } from "../../lib/io/real_disk.ts";
import { CorruptionError, openBackend } from "../../lib/backend/open.ts";
import { WORKER_FROM_BYTES } from "../../lib/backend/page_verifier.ts";
import { MvccStore } from "../../lib/mvcc/kv_store.ts";

const PS = 4096;
const enc = new TextEncoder();
const MARK = enc.encode("the-last-value-");

/** The page whose span holds file offset `at`: the nearest page header before it naming itself. */
function pageHolding(file: Uint8Array, at: number): number {
  for (let id = Math.floor(at / PS); id > 1; id--) {
    const h = new DataView(file.buffer, id * PS, 20);
    if (h.getUint32(0, true) === id && h.getUint16(4, true) === 0x02) return id;
  }
  throw new Error(`no leaf page before offset ${at}`);
}

Deno.test("mvcc restore: a changed byte in a page of a large key bucket fails the open", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mvcc-verify-test-" });
  try {
    const disk = new RealDisk();
    let backend = await openBackend(disk, `${dir}/db`);
    let store = MvccStore.open(backend);
    // 9,000 values of 4,000 bytes: past the size at which the checksums go to a worker
    const value = new Uint8Array(4000).fill(0x61);
    for (let batch = 0; batch < 9; batch++) {
      const txn = store.beginWrite();
      for (let i = 0; i < 1000; i++) {
        txn.put(enc.encode(`k${String(batch * 1000 + i).padStart(5, "0")}`), value, 0n);
      }
      txn.end();
    }
    const last = new Uint8Array(4000).fill(0x62);
    last.set(MARK, 2000);
    const txn = store.beginWrite();
    txn.put(enc.encode("zz-last"), last, 0n);
    txn.end();
    await store.close();
    await backend.close();

    const file = await Deno.readFile(`${dir}/db`);
    assert.ok(file.length > WORKER_FROM_BYTES, `${file.length} bytes`);
    // the same file opens whole
    backend = await openBackend(disk, `${dir}/db`);
    store = MvccStore.open(backend);
    assert.equal(store.indexSize(), 9001);
    await store.close();
    await backend.close();

    // one byte of the last value changed in place: only the page's checksum can tell
    let at = -1;
    for (let i = file.length - MARK.length; i >= 0 && at < 0; i--) {
      if (file[i] === MARK[0] && MARK.every((b, j) => file[i + j] === b)) at = i;
    }
    assert.ok(at > 0, "the marked value is in the file");
    const page = pageHolding(file, at);
    const f = await Deno.open(`${dir}/db`, { write: true });
    await f.seek(at + 3, Deno.SeekMode.Start);
    await f.write(new Uint8Array([file[at + 3] ^ 0x01]));
    f.close();

    backend = await openBackend(disk, `${dir}/db`);
    try {
      assert.throws(
        () => MvccStore.open(backend),
        (e: unknown) =>
          e instanceof CorruptionError && e.page === page &&
          new RegExp(`^page file corrupt: page ${page}: checksum mismatch \\(stored`).test(
            e.message,
          ),
      );
    } finally {
      await backend.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
