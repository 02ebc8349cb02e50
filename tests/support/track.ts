/**
 * The state of a promise as a test sees it once pending callbacks ran: for asserting that a
 * wait is still pending, or how it settled, without awaiting it.
 */
export interface Tracked<T> {
  state: "pending" | "ok" | "failed";
  value?: T;
  error?: unknown;
}

/** Follows `p`: `state` changes when it settles. */
export function track<T>(p: Promise<T>): Tracked<T> {
  const out: Tracked<T> = { state: "pending" };
  p.then((v) => {
    out.state = "ok";
    out.value = v;
  }, (e) => {
    out.state = "failed";
    out.error = e;
  });
  return out;
}
