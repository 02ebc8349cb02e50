/**
 * A fetch response whose body ends when the request's signal aborts, whatever the runtime
 * keeps alive.
 *
 * Deno's fetch (seen on 2.9.6) fails an aborted response's body from an abort algorithm on
 * the signal of the Request it makes inside, a dependent signal that the caller's signal
 * holds only weakly. Once the Response object is garbage collected (a streaming reader keeps
 * only its body's reader, as connect-web does), aborting the caller's signal neither errors
 * the body (a pending read never settles) nor closes the connection (the server keeps
 * serving the stream: a cancelled watch stayed on the member). The DOM standard forbids
 * collecting a dependent signal that still has abort algorithms; the reproduction is in
 * docs/testing.md ("Deno's fetch and aborted response bodies"). Tying the body to the
 * caller's signal here makes an abort end both, on every runtime.
 */

/**
 * `res` with a body that errors with the signal's reason as soon as `signal` aborts (a
 * pending read rejects) and cancels the fetch's own body, which releases its connection.
 * Without a signal or a body, `res` itself.
 */
export function bodyFollowsSignal(res: Response, signal: AbortSignal | null | undefined): Response {
  const source = res.body;
  if (signal === null || signal === undefined || source === null) return res;
  const reader = source.getReader();
  let onAbort = () => {};
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      onAbort = () => {
        controller.error(signal.reason);
        // the body is already failed with the abort's reason; the cancel only frees the
        // connection, and a cancel that fails has nothing left to free
        reader.cancel(signal.reason).catch(() => {});
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    },
    async pull(controller) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (err) {
        signal.removeEventListener("abort", onAbort);
        throw err;
      }
      if (signal.aborted) return; // the body already failed (see onAbort)
      if (r.done) {
        signal.removeEventListener("abort", onAbort);
        controller.close();
      } else controller.enqueue(r.value);
    },
    cancel(reason) {
      signal.removeEventListener("abort", onAbort);
      return reader.cancel(reason);
    },
  });
  return new Response(body, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
}
