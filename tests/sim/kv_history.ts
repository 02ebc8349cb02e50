/**
 * A recorded KV history, as the cluster simulation's clients see it, and the sequential
 * specification the linearizability checkers hold it to. An operation touches one key, or a
 * few keys of one small group (a multi-key txn, a range over the group's prefix), so a history
 * splits into independent histories over the connected components of keys (linearizability is
 * local: Herlihy and Wing's locality theorem, with each component an object), which keeps the
 * search small.
 */

/**
 * One comparison of a txn, as etcd's Compare. `value`: value(key) == expect, where a null
 * expect is `create_revision == 0` (absent). `mod`: mod_revision(key) == modRev, where `expect`
 * is the value the client read with that mod revision (null: absent, modRev 0). Every write of
 * the workload writes a value no other write writes, and the durability check holds each
 * acknowledged write's value at its own revision, so the version a mod revision names is the
 * one holding that value: the model compares values, and Concord's answer must agree.
 */
export interface TxnCompare {
  key: string;
  target: "value" | "mod";
  expect: string | null;
  modRev?: number;
}

/**
 * One operation of a txn's branch; `txn` is a nested txn (etcd's RequestOp_RequestTxn), whose
 * compares, like every compare of the txn, are judged on the state before the txn began
 * (etcd's compareToPath evaluates the whole path first), and whose branch's ops then run in
 * their place in order.
 */
export type TxnOp =
  | { kind: "put"; key: string; value: string }
  | { kind: "get"; key: string }
  | { kind: "delete"; key: string }
  | NestedTxn;

/** A txn inside a txn's branch. */
export interface NestedTxn {
  kind: "txn";
  compare: TxnCompare[];
  then: TxnOp[];
  else: TxnOp[];
}

/** What one op of a txn's branch answered (as the single-key outputs; a nested txn's own). */
export type TxnResult =
  | { kind: "put" }
  | { kind: "get"; value: string | null }
  | { kind: "delete"; deleted: number }
  | { kind: "txn"; succeeded: boolean; results: TxnResult[] };

/**
 * What a client asked for. `cas` is a txn on one key: if value(key) == expect then put value
 * (null: absent). `txn` is a txn over a few keys of one group: if every compare holds, the
 * `then` ops, else the `else` ops (no compares: always `then`). `range` reads every key under
 * `prefix`; `keys` are all the keys the prefix can hold (its group).
 */
export type KvInput =
  | { kind: "put"; key: string; value: string }
  | { kind: "get"; key: string }
  | { kind: "delete"; key: string }
  | { kind: "cas"; key: string; expect: string | null; value: string }
  | { kind: "txn"; compare: TxnCompare[]; then: TxnOp[]; else: TxnOp[] }
  | { kind: "range"; prefix: string; keys: string[] };

/** What the client was answered. A range's kvs are in key order, present keys only. */
export type KvOutput =
  | { kind: "put" }
  | { kind: "get"; value: string | null }
  | { kind: "delete"; deleted: number }
  | { kind: "cas"; succeeded: boolean }
  | { kind: "txn"; succeeded: boolean; results: TxnResult[] }
  | { kind: "range"; kvs: [string, string][] };

/**
 * One operation. `call` and `ret` are positions in one global event order (a counter bumped at
 * every invocation and every response, so ties of the simulated clock cannot blur real-time
 * order): a precedes b when a.ret < b.call. `ret` and `output` are null when the outcome is
 * unknown (the client timed out, or its member crashed): it may have taken effect at any point
 * after `call`, or never.
 */
export interface KvOp {
  id: number;
  client: number;
  input: KvInput;
  call: number;
  ret: number | null;
  output: KvOutput | null;
  /** Simulated clock ms at invocation and response, for traces only. */
  callMs?: number;
  retMs?: number;
}

/** The value of one key: null when absent. */
export type KeyState = string | null;

/** The values of some keys (absent keys are missing). */
export type KvState = ReadonlyMap<string, string>;

/** Every key a txn compares, reads or writes, nested txns included, into `s`. */
function txnKeys(t: NestedTxn | Extract<KvInput, { kind: "txn" }>, s: Set<string>): void {
  for (const c of t.compare) s.add(c.key);
  for (const o of [...t.then, ...t.else]) {
    if (o.kind === "txn") txnKeys(o, s);
    else s.add(o.key);
  }
}

/** Every key an operation reads or writes (a range: every key its prefix can hold). */
export function keysOf(input: KvInput): string[] {
  switch (input.kind) {
    case "txn": {
      const s = new Set<string>();
      txnKeys(input, s);
      return [...s];
    }
    case "range":
      return input.keys;
    default:
      return [input.key];
  }
}

/** True when the op writes without reading (its outcome cannot depend on the state). */
export function isBlindWrite(
  input: KvInput,
): input is Extract<KvInput, { kind: "put" | "delete" }> {
  return input.kind === "put" || input.kind === "delete";
}

const get = (s: KvState, key: string): KeyState => s.get(key) ?? null;

function set(s: KvState, key: string, v: KeyState): KvState {
  if (get(s, key) === v) return s;
  const n = new Map(s);
  if (v === null) n.delete(key);
  else n.set(key, v);
  return n;
}

/** Whether a compare holds in `s` (see TxnCompare: a mod compare is judged on values). */
export function compareHolds(s: KvState, c: TxnCompare): boolean {
  return get(s, c.key) === c.expect;
}

/**
 * Runs a txn's branch on `s`, its compares (and its nested txns') judged on `pre`, the state
 * before the outer txn; undefined when a known result disagrees.
 */
function stepTxn(
  pre: KvState,
  s: KvState,
  t: NestedTxn | Extract<KvInput, { kind: "txn" }>,
  res: { succeeded: boolean; results: readonly TxnResult[] } | null,
): KvState | undefined {
  const ok = t.compare.every((c) => compareHolds(pre, c));
  const branch = ok ? t.then : t.else;
  if (res !== null && (res.succeeded !== ok || res.results.length !== branch.length)) {
    return undefined;
  }
  // the branch's ops run in order, each seeing the ones before it (etcd's txn)
  let n: KvState | undefined = s;
  for (let i = 0; i < branch.length && n !== undefined; i++) {
    n = stepTxnOp(pre, n, branch[i], res === null ? null : res.results[i]);
  }
  return n;
}

/** Runs one op of a txn's branch; undefined when its known result disagrees. */
function stepTxnOp(
  pre: KvState,
  s: KvState,
  o: TxnOp,
  res: TxnResult | null,
): KvState | undefined {
  if (o.kind === "txn") {
    if (res !== null && res.kind !== "txn") return undefined;
    return stepTxn(pre, s, o, res);
  }
  const v = get(s, o.key);
  switch (o.kind) {
    case "put":
      if (res !== null && res.kind !== "put") return undefined;
      return set(s, o.key, o.value);
    case "get":
      if (res !== null && (res.kind !== "get" || res.value !== v)) return undefined;
      return s;
    case "delete":
      if (res !== null && (res.kind !== "delete" || res.deleted !== (v === null ? 0 : 1))) {
        return undefined;
      }
      return set(s, o.key, null);
  }
}

/**
 * The sequential specification: the state after `input`, or undefined when `output` is not
 * what a single copy in state `s` would answer. An unknown output (null) fits any state. The
 * state returned is `s` itself when nothing changed.
 */
export function step(s: KvState, input: KvInput, output: KvOutput | null): KvState | undefined {
  switch (input.kind) {
    case "put":
      if (output !== null && output.kind !== "put") return undefined;
      return set(s, input.key, input.value);
    case "get":
      if (output !== null && (output.kind !== "get" || output.value !== get(s, input.key))) {
        return undefined;
      }
      return s;
    case "delete":
      if (
        output !== null &&
        (output.kind !== "delete" || output.deleted !== (get(s, input.key) === null ? 0 : 1))
      ) {
        return undefined;
      }
      return set(s, input.key, null);
    case "cas": {
      const ok = get(s, input.key) === input.expect;
      if (output !== null && (output.kind !== "cas" || output.succeeded !== ok)) return undefined;
      return ok ? set(s, input.key, input.value) : s;
    }
    case "txn":
      if (output !== null && output.kind !== "txn") return undefined;
      return stepTxn(s, s, input, output);
    case "range": {
      if (output === null) return s;
      if (output.kind !== "range") return undefined;
      const want = input.keys.filter((k) => get(s, k) !== null).sort();
      if (output.kvs.length !== want.length) return undefined;
      for (let i = 0; i < want.length; i++) {
        const [k, v] = output.kvs[i];
        if (k !== want[i] || v !== get(s, k)) return undefined;
      }
      return s;
    }
  }
}

function describeTxnOp(o: TxnOp): string {
  if (o.kind === "txn") return describeTxn(o);
  return o.kind === "put" ? `put(${o.key}, ${o.value})` : `${o.kind}(${o.key})`;
}

function describeTxn(t: NestedTxn | Extract<KvInput, { kind: "txn" }>): string {
  const cmp = t.compare.map((c) =>
    c.target === "value"
      ? `${c.key}==${c.expect ?? "<absent>"}`
      : `mod(${c.key})==${c.modRev}(${c.expect ?? "<absent>"})`
  );
  return `txn(if ${cmp.join(" && ") || "true"} then ${t.then.map(describeTxnOp).join(", ")} else ${
    t.else.map(describeTxnOp).join(", ") || "nothing"
  })`;
}

function describeResults(o: { succeeded: boolean; results: readonly TxnResult[] }): string {
  return `${o.succeeded ? "then" : "else"} [${
    o.results.map((r) =>
      r.kind === "put"
        ? "ok"
        : r.kind === "get"
        ? r.value ?? "<absent>"
        : r.kind === "delete"
        ? `deleted ${r.deleted}`
        : describeResults(r)
    ).join(", ")
  }]`;
}

function describeInput(i: KvInput): string {
  switch (i.kind) {
    case "put":
      return `put(${i.key}, ${i.value})`;
    case "cas":
      return `cas(${i.key}, ${i.expect ?? "<absent>"} -> ${i.value})`;
    case "txn":
      return describeTxn(i);
    case "range":
      return `range(${i.prefix}*)`;
    default:
      return `${i.kind}(${i.key})`;
  }
}

function describeOutput(o: KvOutput | null): string {
  if (o === null) return "?";
  switch (o.kind) {
    case "put":
      return "ok";
    case "get":
      return o.value ?? "<absent>";
    case "delete":
      return `deleted ${o.deleted}`;
    case "cas":
      return o.succeeded ? "succeeded" : "failed";
    case "txn":
      return describeResults(o);
    case "range":
      return `{${o.kvs.map(([k, v]) => `${k}=${v}`).join(", ")}}`;
  }
}

/** One line for a trace: `#12 c3 put(k1, v7) -> ok [call 40 @120ms, ret 47 @130ms]`. */
export function describeOp(op: KvOp): string {
  const at = (n: number | null, ms: number | undefined) =>
    n === null ? "never" : ms === undefined ? `${n}` : `${n} @${ms}ms`;
  return `#${op.id} c${op.client} ${describeInput(op.input)} -> ${describeOutput(op.output)} ` +
    `[call ${at(op.call, op.callMs)}, ret ${at(op.ret, op.retMs)}]`;
}
