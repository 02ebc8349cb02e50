/**
 * The worker behind page_verifier.ts: computes the checksums of pages a scan on the main
 * thread has read into shared buffers, and reports the first mismatch (or any error) in the
 * shared control block. Every job is counted done, failed or not, so the scan never waits on
 * a job that will not finish; after a failure the rest are counted without being checked.
 */
import {
  CTL_DONE,
  CTL_FAIL_COMPUTED,
  CTL_FAIL_PAGE,
  CTL_FAIL_STORED,
  CTL_FAILED,
  CTL_MSG_LEN,
  CTL_READY,
  FAIL_CHECKSUM,
  FAIL_ERROR,
  MSG_BYTES,
  type VerifierInit,
  type VerifierJob,
} from "./page_verifier.ts";
import { pageChecksum, storedChecksum } from "./page.ts";

let ctl: Int32Array | null = null;
let msg: Uint8Array | null = null;

function run(job: VerifierJob, c: Int32Array): void {
  const pages = job.pages;
  let id = -1;
  try {
    for (let i = 0; i < pages.length && Atomics.load(c, CTL_FAILED) === 0; i += 3) {
      id = pages[i + 1];
      const p = new Uint8Array(job.buf, job.at + pages[i], pages[i + 2]);
      const stored = storedChecksum(p);
      const computed = pageChecksum(p);
      if (stored !== computed) {
        c[CTL_FAIL_PAGE] = id;
        c[CTL_FAIL_STORED] = stored;
        c[CTL_FAIL_COMPUTED] = computed;
        Atomics.store(c, CTL_FAILED, FAIL_CHECKSUM);
      }
    }
  } catch (err) {
    const text = new TextEncoder().encode(err instanceof Error ? err.message : String(err));
    const n = Math.min(text.length, MSG_BYTES);
    msg!.set(text.subarray(0, n));
    c[CTL_MSG_LEN] = n;
    c[CTL_FAIL_PAGE] = id;
    Atomics.store(c, CTL_FAILED, FAIL_ERROR);
  } finally {
    Atomics.add(c, CTL_DONE, 1);
    Atomics.notify(c, CTL_DONE);
  }
}

/** The worker's global scope, as far as this file uses it. */
const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent<VerifierInit | VerifierJob>) => void) | null;
};

scope.onmessage = (e) => {
  const data = e.data;
  if ("ctl" in data) {
    ctl = new Int32Array(data.ctl);
    msg = new Uint8Array(data.msg);
    Atomics.store(ctl, CTL_READY, 1);
    Atomics.notify(ctl, CTL_READY);
    return;
  }
  run(data, ctl!);
};
