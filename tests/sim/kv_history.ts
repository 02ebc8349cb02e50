/**
 * A recorded KV history, as the cluster simulation's clients see it, and the sequential
 * specification the linearizability checkers hold it to. Every operation touches one key, so
 * a history splits into independent per-key histories (linearizability is local: Herlihy and
 * Wing's locality theorem), which keeps the search small.
 */

/** What a client asked for. `cas` is a txn: if value(key) == expect then put value (null: absent). */
export type KvInput =
  | { kind: "put"; key: string; value: string }
  | { kind: "get"; key: string }
  | { kind: "delete"; key: string }
  | { kind: "cas"; key: string; expect: string | null; value: string };

/** What the client was answered. */
export type KvOutput =
  | { kind: "put" }
  | { kind: "get"; value: string | null }
  | { kind: "delete"; deleted: number }
  | { kind: "cas"; succeeded: boolean };

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

/**
 * The sequential specification on one key: the state after `input`, or undefined when `output`
 * is not what a single copy in state `s` would answer. An unknown output (null) fits any state.
 */
export function stepKey(
  s: KeyState,
  input: KvInput,
  output: KvOutput | null,
): KeyState | undefined {
  switch (input.kind) {
    case "put":
      return input.value;
    case "get":
      if (output !== null && (output.kind !== "get" || output.value !== s)) return undefined;
      return s;
    case "delete":
      if (
        output !== null && (output.kind !== "delete" || output.deleted !== (s === null ? 0 : 1))
      ) {
        return undefined;
      }
      return null;
    case "cas": {
      const ok = s === input.expect;
      if (output !== null && (output.kind !== "cas" || output.succeeded !== ok)) return undefined;
      return ok ? input.value : s;
    }
  }
}

/** One line for a trace: `#12 c3 put(k1, v7) -> ok [call 40 @120ms, ret 47 @130ms]`. */
export function describeOp(op: KvOp): string {
  const i = op.input;
  const args = i.kind === "put"
    ? `put(${i.key}, ${i.value})`
    : i.kind === "cas"
    ? `cas(${i.key}, ${i.expect ?? "<absent>"} -> ${i.value})`
    : `${i.kind}(${i.key})`;
  const o = op.output;
  const out = o === null
    ? "?"
    : o.kind === "put"
    ? "ok"
    : o.kind === "get"
    ? (o.value ?? "<absent>")
    : o.kind === "delete"
    ? `deleted ${o.deleted}`
    : o.succeeded
    ? "succeeded"
    : "failed";
  const at = (n: number | null, ms: number | undefined) =>
    n === null ? "never" : ms === undefined ? `${n}` : `${n} @${ms}ms`;
  return `#${op.id} c${op.client} ${args} -> ${out} [call ${at(op.call, op.callMs)}, ret ${
    at(op.ret, op.retMs)
  }]`;
}
