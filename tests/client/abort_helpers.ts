/**
 * Shared by the tests of aborted fetch bodies (fetch_abort_test.ts, web_cancel_test.ts): a way
 * to make V8 collect garbage before an abort (the Deno fetch bug they hold needs a collection
 * between the fetch and the abort), and a bounded wait that names what did not come.
 */

/** About 16 MB of short-lived arrays: V8 collects garbage while making them. */
export function makeGarbage(): number {
  let n = 0;
  for (let i = 0; i < 256; i++) n += new Array(8192).fill(i).length;
  return n;
}

/** `p`, or a failure naming `what` once `ms` have passed. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not come within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}
