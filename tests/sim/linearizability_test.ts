/**
 * The linearizability checker on hand-made histories (linearizable and not, stale reads,
 * unknown outcomes, multi-key txns and ranges), and in agreement with brute force on seeded
 * generated histories (single- and multi-key).
 */
import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import type {
  KvInput,
  KvOp,
  KvOutput,
  KvState,
  TxnCompare,
  TxnOp,
  TxnResult,
} from "./kv_history.ts";
import { compareHolds, step } from "./kv_history.ts";
import { checkLinearizable, components } from "./linearizability.ts";
import { bruteForceLinearizable } from "./brute_force.ts";

let nextId = 0;
function op(
  client: number,
  input: KvInput,
  call: number,
  ret: number | null,
  output: KvOutput | null,
): KvOp {
  return { id: nextId++, client, input, call, ret, output };
}
const put = (key: string, value: string): KvInput => ({ kind: "put", key, value });
const get = (key: string): KvInput => ({ kind: "get", key });
const del = (key: string): KvInput => ({ kind: "delete", key });
const cas = (key: string, expect: string | null, value: string): KvInput => ({
  kind: "cas",
  key,
  expect,
  value,
});
const ok: KvOutput = { kind: "put" };
const got = (value: string | null): KvOutput => ({ kind: "get", value });
const eq = (key: string, expect: string | null): TxnCompare => ({ key, target: "value", expect });
const tput = (key: string, value: string): TxnOp => ({ kind: "put", key, value });
const tget = (key: string): TxnOp => ({ kind: "get", key });
const txn = (compare: TxnCompare[], then: TxnOp[], els: TxnOp[] = []): KvInput => ({
  kind: "txn",
  compare,
  then,
  else: els,
});
const txnOut = (succeeded: boolean, results: TxnResult[]): KvOutput => ({
  kind: "txn",
  succeeded,
  results,
});
const range = (prefix: string, keys: string[]): KvInput => ({ kind: "range", prefix, keys });
const kvs = (...pairs: [string, string][]): KvOutput => ({ kind: "range", kvs: pairs });

Deno.test("linearizability: concurrent put and get may see either value; sequential ones may not", () => {
  // get overlaps the put: old or new value are both fine
  for (const v of [null, "1"]) {
    const h: KvOp[] = [op(1, put("k", "1"), 0, 3, ok), op(2, get("k"), 1, 2, got(v))];
    assert.equal(checkLinearizable(h).ok, true, `concurrent get of ${v}`);
    assert.equal(bruteForceLinearizable(h), true);
  }
  // get after the put returned: must see it (the stale read)
  const stale = [op(1, put("k", "1"), 0, 1, ok), op(2, get("k"), 2, 3, got(null))];
  const v = checkLinearizable(stale);
  assert.equal(v.ok, false);
  assert.equal(bruteForceLinearizable(stale), false);
  if (!v.ok) {
    assert.equal(v.key, "k");
    assert.match(v.reason, /no linearization/);
  }
});

Deno.test("linearizability: a read that goes back after another read saw the new value", () => {
  // put overlaps both reads; read 1 sees the new value, read 2 (started after read 1 ended)
  // sees the old one: each alone is fine, together not
  const h = [
    op(1, put("k", "new"), 0, 10, ok),
    op(2, get("k"), 1, 2, got("new")),
    op(3, get("k"), 3, 4, got(null)),
  ];
  assert.equal(checkLinearizable(h).ok, false);
  assert.equal(bruteForceLinearizable(h), false);
});

Deno.test("linearizability: unknown outcomes may have been applied, late, or never", () => {
  // a put that timed out, seen by a later read
  const applied = [op(1, put("k", "1"), 0, null, null), op(2, get("k"), 5, 6, got("1"))];
  assert.equal(checkLinearizable(applied).ok, true);
  // ... or not seen
  const lost = [op(1, put("k", "1"), 0, null, null), op(2, get("k"), 5, 6, got(null))];
  assert.equal(checkLinearizable(lost).ok, true);
  // but seen and then unseen with no other writer is not linearizable
  const flicker = [...applied, op(3, get("k"), 7, 8, got(null))];
  assert.equal(checkLinearizable(flicker).ok, false);
  assert.equal(bruteForceLinearizable(flicker), false);
  // nor can it take effect before it was called
  const early = [op(2, get("k"), 0, 1, got("1")), op(1, put("k", "1"), 2, null, null)];
  assert.equal(checkLinearizable(early).ok, false);
});

Deno.test("linearizability: compare-and-swap and delete outcomes follow the value", () => {
  const good = [
    op(1, cas("k", null, "a"), 0, 1, { kind: "cas", succeeded: true }),
    op(2, cas("k", null, "b"), 2, 3, { kind: "cas", succeeded: false }),
    op(1, cas("k", "a", "c"), 4, 5, { kind: "cas", succeeded: true }),
    op(2, del("k"), 6, 7, { kind: "delete", deleted: 1 }),
    op(3, del("k"), 8, 9, { kind: "delete", deleted: 0 }),
    op(3, get("k"), 10, 11, got(null)),
  ];
  assert.equal(checkLinearizable(good).ok, true);
  // two CAS from absent both succeeding, one after the other: a lost update
  const lostUpdate = [
    op(1, cas("k", null, "a"), 0, 1, { kind: "cas", succeeded: true }),
    op(2, cas("k", null, "b"), 2, 3, { kind: "cas", succeeded: true }),
  ];
  assert.equal(checkLinearizable(lostUpdate).ok, false);
  // ... but concurrent with a delete in between, fine
  const withDelete = [
    op(1, cas("k", null, "a"), 0, 1, { kind: "cas", succeeded: true }),
    op(3, del("k"), 0, 5, { kind: "delete", deleted: 1 }),
    op(2, cas("k", null, "b"), 2, 6, { kind: "cas", succeeded: true }),
  ];
  assert.equal(checkLinearizable(withDelete).ok, true);
  assert.equal(bruteForceLinearizable(withDelete), true);
  // a delete answered 1 on an empty key
  const phantom = [op(1, del("k"), 0, 1, { kind: "delete", deleted: 1 })];
  assert.equal(checkLinearizable(phantom).ok, false);
});

Deno.test("linearizability: keys are independent; a violation on one key names it", () => {
  const h = [
    op(1, put("a", "1"), 0, 1, ok),
    op(2, put("b", "1"), 0, 1, ok),
    op(1, get("a"), 2, 3, got("1")),
    op(2, get("b"), 2, 3, got("2")),
  ];
  const v = checkLinearizable(h);
  assert.equal(v.ok, false);
  if (!v.ok) assert.equal(v.key, "b");
});

Deno.test("linearizability: a long history of many overlapping clients checks fast", () => {
  // 2,000 ops on 4 keys from 8 clients, each op overlapping several others
  const r = new Rand(7);
  let state: KvState = new Map();
  const h: KvOp[] = [];
  let t = 0;
  for (let i = 0; i < 2000; i++) {
    const key = `k${r.int(4)}`;
    const input: KvInput = r.chance(0.5) ? get(key) : put(key, `v${i}`);
    // linearized at t; called up to 3 events before, returned up to 3 after
    const output: KvOutput = input.kind === "get" ? got(state.get(key) ?? null) : ok;
    state = step(state, input, output)!;
    h.push(op(r.int(8), input, t * 10 - r.int(30), t * 10 + r.int(30), output));
    t++;
  }
  const start = performance.now();
  assert.equal(checkLinearizable(h).ok, true);
  assert.ok(performance.now() - start < 5000, "checking took too long");
});

/**
 * What a single copy in state `s` answers (the oracle the generated histories are made with):
 * a txn as etcd runs one, every compare on its path (nested txns' too) judged on the state
 * before it, then the ops of the branches taken in order on a copy of the state, each seeing
 * the ones before it.
 */
function answer(s: KvState, i: KvInput): KvOutput {
  const v = (k: string) => s.get(k) ?? null;
  switch (i.kind) {
    case "put":
      return ok;
    case "get":
      return got(v(i.key));
    case "delete":
      return { kind: "delete", deleted: v(i.key) === null ? 0 : 1 };
    case "cas":
      return { kind: "cas", succeeded: v(i.key) === i.expect };
    case "txn": {
      const cur = new Map(s);
      const run = (t: { compare: TxnCompare[]; then: TxnOp[]; else: TxnOp[] }) => {
        const yes = t.compare.every((c) => compareHolds(s, c));
        const results = (yes ? t.then : t.else).map((o): TxnResult => {
          if (o.kind === "txn") return { kind: "txn", ...run(o) };
          const was = cur.get(o.key) ?? null;
          if (o.kind === "get") return { kind: "get", value: was };
          if (o.kind === "put") cur.set(o.key, o.value);
          else cur.delete(o.key);
          return o.kind === "put"
            ? { kind: "put" }
            : { kind: "delete", deleted: was === null ? 0 : 1 };
        });
        return { succeeded: yes, results };
      };
      const out = run(i);
      return txnOut(out.succeeded, out.results);
    }
    case "range":
      return kvs(
        ...i.keys.filter((k) => v(k) !== null).sort().map((k): [string, string] => [k, v(k)!]),
      );
  }
}

/** A random multi-key input over `keys`: a txn (compare, writes, else reads) or a range. */
function multiKey(r: Rand, keys: string[], val: string): KvInput {
  const some = (n: number) => r.shuffle([...keys]).slice(0, n);
  if (r.chance(0.25)) return range("", keys);
  if (r.chance(0.2)) return txn([], some(1 + r.int(keys.length)).map(tget)); // several gets
  const compare = some(1 + r.int(Math.min(2, keys.length))).map((key): TxnCompare => ({
    key,
    target: r.chance(0.5) ? "value" : "mod",
    expect: r.chance(0.4) ? null : `v${r.int(3)}`,
  }));
  const then = some(1 + r.int(keys.length)).map((key): TxnOp =>
    r.chance(0.75) ? tput(key, val) : { kind: "delete", key }
  );
  if (r.chance(0.3)) {
    // nested: the writes behind a compare of their own (judged on the state before the txn),
    // then reads that see them (or the else branch's reads)
    const inner: TxnCompare = {
      key: r.pick(keys),
      target: "value",
      expect: r.chance(0.4) ? null : `v${r.int(3)}`,
    };
    const nested: TxnOp = { kind: "txn", compare: [inner], then, else: some(1).map(tget) };
    return txn(compare, [nested, ...some(r.int(keys.length)).map(tget)], some(1).map(tget));
  }
  return txn(compare, then, some(r.int(keys.length + 1)).map(tget));
}

/**
 * A small random history: ops with random intervals, each taking effect at a random point of
 * its interval (so the history starts linearizable), some with unknown outcomes (applied or
 * not), then sometimes one answer changed (which may or may not break it). Half of the
 * histories have multi-key ops (txns over 2 or 3 keys, ranges).
 */
function generate(r: Rand): KvOp[] {
  const n = 1 + r.int(7);
  const keys = r.chance(0.3) ? ["a"] : r.chance(0.5) ? ["a", "b"] : ["a", "b", "c"];
  const multi = keys.length > 1 && r.chance(0.6);
  const ops: { op: KvOp; at: number; applied: boolean }[] = [];
  for (let i = 0; i < n; i++) {
    const key = keys[r.int(keys.length)];
    const val = `v${r.int(3)}`;
    const pick = r.int(multi ? 6 : 4);
    const input: KvInput = pick === 0
      ? put(key, val)
      : pick === 1
      ? get(key)
      : pick === 2
      ? del(key)
      : pick === 3
      ? cas(key, r.chance(0.4) ? null : `v${r.int(3)}`, val)
      : multiKey(r, keys, val);
    const call = r.int(12);
    const ret = call + r.int(8);
    const at = call + r.float() * (ret - call);
    const unknown = r.chance(0.2);
    ops.push({
      op: { id: i, client: i, input, call, ret: unknown ? null : ret, output: null },
      at,
      applied: !unknown || r.chance(0.5),
    });
  }
  let state: KvState = new Map();
  for (const x of [...ops].sort((a, b) => a.at - b.at)) {
    if (!x.applied) continue;
    const output = answer(state, x.op.input);
    state = step(state, x.op.input, output)!;
    if (x.op.ret !== null) x.op.output = output;
  }
  if (r.chance(0.5)) {
    const known = ops.filter((x) => x.op.output !== null);
    if (known.length > 0) {
      const x = known[r.int(known.length)].op;
      x.output = mutate(r, x.output!);
    }
  }
  return ops.map((x) => x.op);
}

/** One answer changed (a read's value, a delete's count, a txn's branch or one of its results). */
function mutate(r: Rand, o: KvOutput): KvOutput {
  const value = () => r.chance(0.3) ? null : `v${r.int(3)}`;
  switch (o.kind) {
    case "get":
      return got(value());
    case "delete":
      return { kind: "delete", deleted: 1 - o.deleted };
    case "cas":
      return { kind: "cas", succeeded: !o.succeeded };
    case "txn": {
      const nested = o.results.flatMap((x, i) => x.kind === "txn" ? [i] : []);
      if (nested.length > 0 && r.chance(0.4)) {
        // a nested txn's answer changed: its branch, or one of its results
        const results = [...o.results];
        const n = r.pick(nested);
        results[n] = mutate(r, results[n] as KvOutput) as TxnResult;
        return { ...o, results };
      }
      const reads = o.results.flatMap((x, i) => x.kind === "get" ? [i] : []);
      if (reads.length === 0 || r.chance(0.3)) return { ...o, succeeded: !o.succeeded };
      const results = [...o.results];
      results[r.pick(reads)] = { kind: "get", value: value() };
      return { ...o, results };
    }
    case "range": {
      if (o.kvs.length > 0 && r.chance(0.5)) return kvs(...o.kvs.slice(1));
      const v = value();
      return v === null ? o : kvs(...o.kvs, ["c", v]);
    }
    case "put":
      return o;
  }
}

Deno.test("linearizability: agrees with brute force on generated small histories", () => {
  const seed = testSeed();
  console.log(`seed=${seed} (replay with SEED=${seed})`);
  const r = new Rand(seed);
  let yes = 0;
  let no = 0;
  let multiYes = 0;
  let multiNo = 0;
  let nestedYes = 0;
  let nestedNo = 0;
  for (let i = 0; i < 4000; i++) {
    const h = generate(r);
    const expect = bruteForceLinearizable(h);
    if (h.some((o) => o.input.kind === "txn" || o.input.kind === "range")) {
      if (expect) multiYes++;
      else multiNo++;
    }
    if (h.some((o) => o.input.kind === "txn" && o.input.then.some((x) => x.kind === "txn"))) {
      if (expect) nestedYes++;
      else nestedNo++;
    }
    const v = checkLinearizable(h);
    assert.equal(
      v.ok,
      expect,
      `seed=${seed} history ${i}: search says ${v.ok}, brute force ${expect}\n${JSON.stringify(h)}`,
    );
    if (expect) yes++;
    else no++;
  }
  // both kinds were exercised, or the agreement means little
  assert.ok(yes > 300 && no > 300, `seed=${seed}: ${yes} linearizable, ${no} not`);
  assert.ok(
    multiYes > 200 && multiNo > 200,
    `seed=${seed}: with multi-key ops, ${multiYes} linearizable, ${multiNo} not`,
  );
  assert.ok(
    nestedYes > 50 && nestedNo > 50,
    `seed=${seed}: with nested txns, ${nestedYes} linearizable, ${nestedNo} not`,
  );
});

Deno.test("linearizability: many unknown-outcome writes do not blow up the search", () => {
  // 40 writes that timed out (a partitioned member's clients), then a violation the search
  // must prove by exhausting every placement of them: a read of a value nobody wrote
  const h: KvOp[] = [];
  for (let i = 0; i < 40; i++) {
    h.push(op(i, i % 4 === 3 ? del("k") : put("k", `u${i}`), i, null, null));
  }
  h.push(op(99, put("k", "a"), 100, 101, ok));
  h.push(op(99, get("k"), 102, 103, got("a")));
  const fine = [...h, op(99, get("k"), 104, 105, got("u5"))];
  assert.equal(checkLinearizable(fine).ok, true, "a timed-out write may land late");
  const start = performance.now();
  const v = checkLinearizable([...h, op(99, get("k"), 104, 105, got("zz"))]);
  assert.equal(v.ok, false);
  if (!v.ok) assert.match(v.reason, /no linearization/, "decided, not given up");
  assert.ok(performance.now() - start < 2000, "the search took too long");
});

Deno.test("linearizability: keys joined by a multi-key op form one component", () => {
  const h = [
    op(1, put("a", "1"), 0, 1, ok),
    op(2, txn([eq("b", null)], [tput("c", "1")]), 0, 1, txnOut(true, [{ kind: "put" }])),
    op(3, range("g/", ["g/0", "g/1"]), 0, 1, kvs()),
    op(4, get("d"), 0, 1, got(null)),
    op(
      5,
      txn([], [tget("d"), tget("c")]),
      2,
      3,
      txnOut(true, [got(null), got("1")] as TxnResult[]),
    ),
  ];
  const parts = components(h).map((c) => c.keys.join(",")).sort();
  assert.deepEqual(parts, ["a", "b,c,d", "g/0,g/1"]);
  assert.equal(checkLinearizable(h).ok, true);
});

Deno.test("linearizability: a txn seen half-applied by a reader is not linearizable", () => {
  // a txn puts a and b; one read (after another) sees a's new value, then b's old one
  const w = op(
    1,
    txn([], [tput("a", "1"), tput("b", "1")]),
    0,
    10,
    txnOut(true, [ok, ok] as TxnResult[]),
  );
  const half = [w, op(2, get("a"), 1, 2, got("1")), op(2, get("b"), 3, 4, got(null))];
  assert.equal(bruteForceLinearizable(half), false);
  const v = checkLinearizable(half);
  assert.equal(v.ok, false);
  if (!v.ok) assert.equal(v.key, "a, b");
  // each key alone is fine: checked per key (no txn joining them) it would pass
  assert.equal(checkLinearizable([op(1, put("a", "1"), 0, 10, ok), half[1]]).ok, true);
  assert.equal(checkLinearizable([op(1, put("b", "1"), 0, 10, ok), half[2]]).ok, true);
  // a read of both in one txn sees both or neither
  const both = [
    w,
    op(2, txn([], [tget("a"), tget("b")]), 1, 2, txnOut(true, [got("1"), got("1")] as TxnResult[])),
  ];
  assert.equal(checkLinearizable(both).ok, true);
  const torn = [
    w,
    op(
      2,
      txn([], [tget("a"), tget("b")]),
      1,
      2,
      txnOut(true, [got("1"), got(null)] as TxnResult[]),
    ),
  ];
  assert.equal(checkLinearizable(torn).ok, false);
  assert.equal(bruteForceLinearizable(torn), false);
  // and so does a range over the group's prefix
  const rangeTorn = [w, op(2, range("", ["a", "b"]), 1, 2, kvs(["b", "1"]))];
  assert.equal(checkLinearizable(rangeTorn).ok, false);
  const rangeWhole = [w, op(2, range("", ["a", "b"]), 1, 2, kvs(["a", "1"], ["b", "1"]))];
  assert.equal(checkLinearizable(rangeWhole).ok, true);
});

Deno.test("linearizability: a lost multi-key compare-and-swap is not linearizable", () => {
  // two txns each claim a and b only when both are absent; both succeed, one after the other
  const claim = (v: string) =>
    txn([eq("a", null), eq("b", null)], [tput("a", v), tput("b", v)], [tget("a")]);
  const lost = [
    op(1, claim("x"), 0, 1, txnOut(true, [ok, ok] as TxnResult[])),
    op(2, claim("y"), 2, 3, txnOut(true, [ok, ok] as TxnResult[])),
  ];
  assert.equal(checkLinearizable(lost).ok, false);
  assert.equal(bruteForceLinearizable(lost), false);
  // the second fails and reads the first's value in its else branch: fine
  const good = [lost[0], op(2, claim("y"), 2, 3, txnOut(false, [got("x")] as TxnResult[]))];
  assert.equal(checkLinearizable(good).ok, true);
  // ... but not another value
  const wrongElse = [lost[0], op(2, claim("y"), 2, 3, txnOut(false, [got("y")] as TxnResult[]))];
  assert.equal(checkLinearizable(wrongElse).ok, false);
  // a mod-revision compare is judged on the value it names (see TxnCompare)
  const mod: TxnCompare = { key: "a", target: "mod", expect: "x", modRev: 7 };
  const modCas = [
    lost[0],
    op(2, txn([mod], [tput("b", "z")]), 2, 3, txnOut(true, [ok] as TxnResult[])),
    op(3, get("b"), 4, 5, got("z")),
  ];
  assert.equal(checkLinearizable(modCas).ok, true);
  const modWrong = [lost[0], op(2, txn([mod], [tput("b", "z")]), 2, 3, txnOut(false, []))];
  assert.equal(checkLinearizable(modWrong).ok, false);
});

Deno.test("linearizability: a read of two keys from two different states is not linearizable", () => {
  // a is written, then b (sequentially); a range seeing b's write without a's saw no state
  // the store passed through
  const h = [
    op(1, put("a", "1"), 0, 1, ok),
    op(1, put("b", "1"), 2, 3, ok),
  ];
  const torn = [...h, op(2, range("", ["a", "b"]), 0, 4, kvs(["b", "1"]))];
  assert.equal(checkLinearizable(torn).ok, false);
  assert.equal(bruteForceLinearizable(torn), false);
  for (const seen of [kvs(), kvs(["a", "1"]), kvs(["a", "1"], ["b", "1"])]) {
    assert.equal(checkLinearizable([...h, op(2, range("", ["a", "b"]), 0, 4, seen)]).ok, true);
  }
  // the same with a txn of two gets
  const gets = txn([], [tget("a"), tget("b")]);
  const tornGets = [...h, op(2, gets, 0, 4, txnOut(true, [got(null), got("1")] as TxnResult[]))];
  assert.equal(checkLinearizable(tornGets).ok, false);
  assert.equal(bruteForceLinearizable(tornGets), false);
});

Deno.test("linearizability: many unknown multi-key txns over a group check fast", () => {
  // 30 timed-out txns over 3 keys, then a read that no placement of them explains
  const h: KvOp[] = [];
  const keys = ["g/0", "g/1", "g/2"];
  for (let i = 0; i < 30; i++) {
    const a = keys[i % 3];
    const b = keys[(i + 1) % 3];
    h.push(
      op(i, txn([eq(a, null)], [tput(a, `u${i}`), tput(b, `u${i}`)], [tget(b)]), i, null, null),
    );
  }
  h.push(op(99, range("g/", keys), 100, 101, kvs()));
  const start = performance.now();
  assert.equal(checkLinearizable(h).ok, true, "none applied is fine");
  const bad = [...h, op(99, range("g/", keys), 102, 103, kvs(["g/0", "u1"], ["g/1", "u2"]))];
  const v = checkLinearizable(bad);
  assert.equal(v.ok, false);
  if (!v.ok) assert.match(v.reason, /no linearization/, "decided, not given up");
  assert.ok(performance.now() - start < 3000, "the search took too long");
});

Deno.test("linearizability: a nested txn's compare is judged on the state before the txn (etcd's compareToPath)", () => {
  // then: put a=1, then a nested txn on a==1 (false before the txn: a was absent) that puts b
  const nested: TxnOp = {
    kind: "txn",
    compare: [eq("a", "1")],
    then: [tput("b", "1")],
    else: [tget("b")],
  };
  const t = txn([], [tput("a", "1"), nested]);
  const elseTaken = txnOut(
    true,
    [ok, { kind: "txn", succeeded: false, results: [got(null)] }] as TxnResult[],
  );
  assert.equal(checkLinearizable([op(1, t, 0, 1, elseTaken)]).ok, true);
  // answered as if the nested compare saw the outer put: never what etcd does
  const thenTaken = txnOut(
    true,
    [ok, { kind: "txn", succeeded: true, results: [ok] }] as TxnResult[],
  );
  assert.equal(checkLinearizable([op(1, t, 0, 1, thenTaken)]).ok, false);
  // a read after the nested txn sees its write, in the same txn
  const reads = txn([eq("a", null)], [
    { kind: "txn", compare: [eq("a", null)], then: [tput("a", "2")], else: [] },
    tget("a"),
  ]);
  const seen = (v: string | null) =>
    txnOut(true, [{ kind: "txn", succeeded: true, results: [ok] }, got(v)] as TxnResult[]);
  assert.equal(checkLinearizable([op(1, reads, 0, 1, seen("2"))]).ok, true);
  assert.equal(checkLinearizable([op(1, reads, 0, 1, seen(null))]).ok, false);
});

Deno.test("linearizability: a nested txn's writes are seen whole or not at all", () => {
  // a txn whose nested txn puts a and b; a later read sees a's new value and b's old one
  const w = op(
    1,
    txn([], [{ kind: "txn", compare: [], then: [tput("a", "1"), tput("b", "1")], else: [] }]),
    0,
    1,
    txnOut(true, [{ kind: "txn", succeeded: true, results: [ok, ok] }] as TxnResult[]),
  );
  const torn = [
    w,
    op(
      2,
      txn([], [tget("a"), tget("b")]),
      2,
      3,
      txnOut(true, [got("1"), got(null)] as TxnResult[]),
    ),
  ];
  assert.equal(checkLinearizable(torn).ok, false);
  const whole = [
    w,
    op(2, txn([], [tget("a"), tget("b")]), 2, 3, txnOut(true, [got("1"), got("1")] as TxnResult[])),
  ];
  assert.equal(checkLinearizable(whole).ok, true);
  // the writes the answer names count, not the branch not taken: else (b absent) reads b
  const w2 = op(
    1,
    txn([], [{ kind: "txn", compare: [eq("a", "x")], then: [tput("b", "9")], else: [tget("b")] }]),
    0,
    1,
    txnOut(true, [{ kind: "txn", succeeded: true, results: [ok] }] as TxnResult[]),
  );
  assert.equal(checkLinearizable([w2]).ok, false, "the nested then branch cannot be taken");
});

Deno.test("linearizability: a range over two groups joins their components", () => {
  // g0/0 is written, then g1/0 (sequentially); a range over both groups sees g1/0's write
  // without g0/0's: each group alone has a linearization, the two together do not
  const h = [
    op(1, put("g0/0", "1"), 0, 1, ok),
    op(1, put("g1/0", "1"), 2, 3, ok),
  ];
  const all = range("g", ["g0/0", "g0/1", "g1/0"]);
  const torn = [...h, op(2, all, 0, 4, kvs(["g1/0", "1"]))];
  const v = checkLinearizable(torn);
  assert.equal(v.ok, false);
  assert.equal(
    checkLinearizable([...h, op(2, all, 0, 4, kvs(["g0/0", "1"], ["g1/0", "1"]))]).ok,
    true,
  );
  assert.equal(checkLinearizable([...h, op(2, all, 0, 4, kvs(["g0/0", "1"]))]).ok, true);
  // split by group, the torn range's two halves each pass
  const g0 = [h[0], op(2, range("g0/", ["g0/0", "g0/1"]), 0, 4, kvs())];
  const g1 = [h[1], op(2, range("g1/", ["g1/0"]), 0, 4, kvs(["g1/0", "1"]))];
  assert.equal(checkLinearizable(g0).ok, true);
  assert.equal(checkLinearizable(g1).ok, true);
});
