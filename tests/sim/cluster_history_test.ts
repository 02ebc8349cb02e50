/**
 * The durability check on multi-key txns, over histories made on a real MVCC store: a txn's
 * writes all at the revision it was answered with pass; a txn whose writes landed in two
 * revisions, one whose write is missing, and a put whose revision changed another key too
 * fail; serializable group reads from one revision pass where a read mixing two fails; and
 * unknown writes that certainly never applied are left out of the linearizability check.
 */
import assert from "node:assert/strict";
import { MvccStore } from "../../lib/mvcc/kv_store.ts";
import { applyPut, applyTxn } from "../../lib/mvcc/applier.ts";
import { newDisk, openSimBackend } from "../mvcc/helpers.ts";
import { HistoryArchive } from "./history_archive.ts";
import {
  checkDurability,
  checkSerializable,
  dropUnapplied,
  type SerialRead,
} from "./cluster_history.ts";
import type { KvOp } from "./kv_history.ts";

const enc = new TextEncoder();

async function newStore(): Promise<MvccStore> {
  return MvccStore.open(await openSimBackend(await newDisk()));
}

function put(s: MvccStore, key: string, value: string): number {
  return applyPut(s, { key: enc.encode(key), value: enc.encode(value), lease: 0n }).header
    .revision;
}

/** A txn putting every pair in one revision (no compares). */
function txnPut(s: MvccStore, pairs: [string, string][]): number {
  return applyTxn(s, {
    success: pairs.map(([k, v]) => ({
      case: "requestPut" as const,
      value: { key: enc.encode(k), value: enc.encode(v), lease: 0n },
    })),
  }).header.revision;
}

/** The answered op `txn(then put a=v, put b=v) -> then [ok, ok]`. */
function txnOp(id: number, v: string, call: number): KvOp {
  return {
    id,
    client: 1,
    input: {
      kind: "txn",
      compare: [],
      then: [{ kind: "put", key: "a", value: v }, { kind: "put", key: "b", value: v }],
      else: [],
    },
    call,
    ret: call + 1,
    output: { kind: "txn", succeeded: true, results: [{ kind: "put" }, { kind: "put" }] },
  };
}

Deno.test("durability: a txn's writes all at its revision pass; split, missing or joined fail", async () => {
  const s = await newStore();
  const h = new HistoryArchive();
  const whole = txnPut(s, [["a", "1"], ["b", "1"]]); // rev 2
  // the same txn's writes applied as two revisions (rev 3, 4), answered with the first
  const split = put(s, "a", "2");
  put(s, "b", "2");
  // a put whose revision changed another key too (rev 5)
  const joined = txnPut(s, [["c", "1"], ["d", "1"]]);
  h.observe("m", s, 10);
  const revs = new Map([[0, whole], [1, split], [2, joined]]);
  const ok = [txnOp(0, "1", 0)];
  assert.deepEqual(checkDurability(ok, revs, h), []);
  const bad = checkDurability([txnOp(1, "2", 2)], revs, h);
  assert.match(bad.join("\n"), /acknowledged write lost: .*b there is/);
  assert.match(
    bad.join("\n"),
    /not alone and whole in its revision: .*changed \[a, b\], the history's rev 3 changed \[a\]/,
  );
  const putC: KvOp = {
    id: 2,
    client: 1,
    input: { kind: "put", key: "c", value: "1" },
    call: 4,
    ret: 5,
    output: { kind: "put" },
  };
  assert.match(
    checkDurability([putC], revs, h).join("\n"),
    /not alone and whole in its revision: .*changed \[c\], the history's rev 5 changed \[c, d\]/,
  );
  // the else branch's reads change nothing: no write to check
  const readOnly: KvOp = {
    ...txnOp(3, "9", 6),
    output: { kind: "txn", succeeded: false, results: [] },
  };
  assert.deepEqual(checkDurability([readOnly], new Map([[3, joined]]), h), []);
});

Deno.test("serializable reads: a group read from one revision passes; one mixing two fails", async () => {
  const s = await newStore();
  const h = new HistoryArchive();
  txnPut(s, [["g/0", "1"], ["g/1", "1"]]); // rev 2
  txnPut(s, [["g/0", "2"], ["g/1", "2"]]); // rev 3
  h.observe("m", s, 10);
  const read = (key: string, value: string, rev: number): SerialRead => ({
    client: 1,
    member: 0,
    incarnation: 0,
    key,
    value,
    rev,
    atMs: 0,
  });
  assert.deepEqual(checkSerializable([read("g/0", "1", 2), read("g/1", "1", 2)], h), []);
  const mixed = checkSerializable([read("g/0", "1", 3), read("g/1", "2", 3)], h);
  assert.equal(mixed.length, 1);
  assert.match(mixed[0], /g\/0 at rev 3 saw 1, the history had 2/);
});

Deno.test("unknown writes whose values the record never held are left out; the rest stay", async () => {
  const s = await newStore();
  const h = new HistoryArchive();
  put(s, "a", "applied");
  h.observe("m", s, 10);
  const unknown = (id: number, input: KvOp["input"]): KvOp => ({
    id,
    client: 1,
    input,
    call: id,
    ret: null,
    output: null,
  });
  const history: KvOp[] = [
    unknown(0, { kind: "put", key: "a", value: "applied" }),
    unknown(1, { kind: "put", key: "a", value: "lost" }),
    unknown(2, { kind: "put", key: "b", value: "applied" }), // (that value, another key)
    unknown(3, { kind: "delete", key: "a" }),
    unknown(4, { kind: "cas", key: "a", expect: null, value: "lost2" }),
    unknown(5, {
      kind: "txn",
      compare: [{ key: "a", target: "value", expect: null }],
      then: [{ kind: "put", key: "a", value: "lost3" }, { kind: "delete", key: "b" }],
      else: [{ kind: "get", key: "a" }],
    }),
    unknown(6, {
      kind: "txn",
      compare: [],
      then: [{ kind: "delete", key: "a" }, { kind: "delete", key: "b" }],
      else: [],
    }),
    { ...txnOp(7, "lost4", 20), ret: null, output: null },
    { ...unknown(8, { kind: "put", key: "a", value: "never" }), ret: 9, output: { kind: "put" } },
  ];
  assert.deepEqual(dropUnapplied(history, h).map((o) => o.id), [0, 3, 6, 8]);
});
