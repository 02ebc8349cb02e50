/**
 * Page checksums computed on a second thread while a whole-tree scan (tree_scan.ts) walks the
 * pages on this one. A restart reads every page of the key bucket to rebuild the key index,
 * and CRC-32C over them was half of a 2 GiB member's start (docs/perf.md, "Restart time");
 * the machine has a second core. The scan reads pages into buffers backed by a
 * SharedArrayBuffer, checks each page's header itself (what it needs before it walks the
 * elements) and hands the checksums to a Worker (page_verify_worker.ts), which reads the same
 * bytes in place. Nothing is skipped: the scan does not return before the worker has checked
 * every page it read, and a damaged page fails the scan with the same CorruptionError the
 * pager would raise (reported in place of whatever a walk over the damaged bytes threw
 * later). The worker lives only for the scan: it is started by it and terminated when it ends,
 * whatever the outcome.
 *
 * A small file never starts the worker (starting one costs 0.1 to 0.5 s of its thread): in the
 * default mode a scan of a file of `WORKER_FROM_BYTES` or more starts it at once and hands it
 * pages from the moment it reports ready, verifying here until then; a smaller file's scan
 * verifies here. Where SharedArrayBuffer or Worker is missing, everything is verified here.
 */
import { CorruptionError } from "./errors.ts";
import { checksumMismatch, verifyPageChecksum } from "./page.ts";

/**
 * Where checksums are computed: "auto" on a worker for a large file (as soon as it has
 * started, and on this thread while it is MAX_BACKLOG jobs behind), else on this thread;
 * "worker" every one on the worker (waiting for it to start and to catch up: for tests);
 * "inline" always on this thread.
 */
export type VerifyMode = "auto" | "worker" | "inline";

/** Page files this large have an "auto" scan start a worker. */
export const WORKER_FROM_BYTES = 32 << 20;

/**
 * Jobs the worker may have in hand: past it, the scan checks the next window itself rather
 * than wait (the two threads share the checksums when the worker is the slower, as on a
 * machine whose second core is busy).
 */
export const MAX_BACKLOG = 2;

/** Longest wait for the worker to start or to finish a job before the scan fails. */
const WAIT_LIMIT_MS = 120_000;

// Words of the shared control block.
/** 1 once the worker has its control block and takes jobs. */
export const CTL_READY = 0;
/** Jobs finished (verified, or skipped after a failure). */
export const CTL_DONE = 1;
/** 0 while every page checked out; FAIL_CHECKSUM or FAIL_ERROR after the first that did not. */
export const CTL_FAILED = 2;
/** The failed page's id, stored and computed checksums (FAIL_CHECKSUM). */
export const CTL_FAIL_PAGE = 3;
export const CTL_FAIL_STORED = 4;
export const CTL_FAIL_COMPUTED = 5;
/** Bytes of the message in the message block (FAIL_ERROR). */
export const CTL_MSG_LEN = 6;
export const CTL_WORDS = 8;
export const MSG_BYTES = 1024;
export const FAIL_CHECKSUM = 1;
export const FAIL_ERROR = 2;

/** What the worker is sent first: where to report. */
export interface VerifierInit {
  ctl: SharedArrayBuffer;
  msg: SharedArrayBuffer;
}

/** One job: the pages at (byte offset, page id, span bytes) triples of `buf` from `at`. */
export interface VerifierJob {
  buf: SharedArrayBuffer;
  at: number;
  pages: Int32Array;
}

/** Hands page checksums to a worker, or computes them here; see the file comment. */
export class PageVerifier {
  readonly #mode: VerifyMode;
  #worker: Worker | null = null;
  #ctl: Int32Array | null = null;
  #msg: Uint8Array | null = null;
  #posted = 0;
  #closed = false;
  /** Pages whose checksums the worker was handed (for the tests and the bench). */
  workerPages = 0;

  /** `fileBytes`: the size of the file the pages come from ("auto" decides by it). */
  constructor(mode: VerifyMode, fileBytes: number) {
    const can = typeof SharedArrayBuffer === "function" && typeof Worker === "function";
    this.#mode = !can || (mode === "auto" && fileBytes < WORKER_FROM_BYTES) ? "inline" : mode;
    if (this.#mode !== "inline") this.#start();
  }

  /** Whether a worker has been started (for the tests and the bench). */
  get started(): boolean {
    return this.#worker !== null;
  }

  /** A scratch buffer of `n` bytes the worker can read when one is used. */
  alloc(n: number): Uint8Array {
    return this.#mode === "inline" ? new Uint8Array(n) : new Uint8Array(new SharedArrayBuffer(n));
  }

  /**
   * Checks the checksums of the pages of `buf` at the (byte offset, page id, span bytes)
   * triples `pages`, whose headers the caller has checked. Returns the job to wait for
   * (`waitFor`) before `buf` is overwritten, or 0 when they were checked here and then. Throws
   * CorruptionError for a damaged page checked here.
   */
  check(buf: Uint8Array, pages: number[]): number {
    const ctl = this.#ctl;
    if (ctl !== null && buf.buffer instanceof SharedArrayBuffer && pages.length > 0) {
      if (this.#mode === "worker") {
        // every page to the worker: wait for it to start and to have room
        this.#await(CTL_READY, 1, "start");
        this.#await(CTL_DONE, this.#posted - MAX_BACKLOG + 1, "verify a job");
      }
      const ready = Atomics.load(ctl, CTL_READY) === 1;
      if (ready && this.#posted - Atomics.load(ctl, CTL_DONE) < MAX_BACKLOG) {
        const job: VerifierJob = {
          buf: buf.buffer,
          at: buf.byteOffset,
          pages: Int32Array.from(pages),
        };
        this.#worker!.postMessage(job);
        this.workerPages += pages.length / 3;
        return ++this.#posted;
      }
    }
    for (let i = 0; i < pages.length; i += 3) {
      verifyPageChecksum(buf.subarray(pages[i], pages[i] + pages[i + 2]), pages[i + 1]);
    }
    return 0;
  }

  /** Whether job `job` is finished (0, a check made here, always is). */
  isDone(job: number): boolean {
    return job === 0 || Atomics.load(this.#ctl!, CTL_DONE) >= job;
  }

  /** Waits until job `job` is finished, so that its buffer may be reused. */
  waitFor(job: number): void {
    if (job > 0) this.#await(CTL_DONE, job, "verify a job");
  }

  /**
   * Waits for every job handed out, then throws the first damaged page's CorruptionError (or
   * the error the worker met). Returns when every page checked out.
   */
  finish(): void {
    this.waitFor(this.#posted);
    const failure = this.failure();
    if (failure !== null) throw failure;
  }

  /** The worker's first failure so far, or null. */
  failure(): Error | null {
    const ctl = this.#ctl;
    if (ctl === null) return null;
    const failed = Atomics.load(ctl, CTL_FAILED);
    if (failed === FAIL_CHECKSUM) {
      return checksumMismatch(
        ctl[CTL_FAIL_PAGE],
        ctl[CTL_FAIL_STORED] >>> 0,
        ctl[CTL_FAIL_COMPUTED] >>> 0,
      );
    }
    if (failed === FAIL_ERROR) {
      const text = new TextDecoder().decode(this.#msg!.slice(0, ctl[CTL_MSG_LEN]));
      return new CorruptionError(ctl[CTL_FAIL_PAGE], `page verifier failed: ${text}`);
    }
    return null;
  }

  /** Stops the worker (idempotent). Jobs not finished are abandoned. */
  close(): void {
    this.#closed = true;
    this.#worker?.terminate();
    this.#worker = null;
  }

  #start(): void {
    if (this.#closed) return;
    const ctl = new SharedArrayBuffer(CTL_WORDS * 4);
    const msg = new SharedArrayBuffer(MSG_BYTES);
    this.#ctl = new Int32Array(ctl);
    this.#msg = new Uint8Array(msg);
    this.#worker = new Worker(new URL("./page_verify_worker.ts", import.meta.url).href, {
      type: "module",
      name: "concord page verifier",
    });
    // a worker that cannot start (its module missing from a compiled binary) never reports
    // ready, and the scan verifies every page itself; its error event must not then be
    // rethrown on this thread as an uncaught error
    this.#worker.onerror = (e) => e.preventDefault();
    const init: VerifierInit = { ctl, msg };
    this.#worker.postMessage(init);
  }

  /** Blocks this thread until control word `word` reaches `value`, at most WAIT_LIMIT_MS. */
  #await(word: number, value: number, what: string): void {
    const ctl = this.#ctl!;
    const deadline = performance.now() + WAIT_LIMIT_MS;
    for (let now = Atomics.load(ctl, word); now < value; now = Atomics.load(ctl, word)) {
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new Error(
          `the page verifier worker did not ${what} within ${WAIT_LIMIT_MS / 1000} s`,
        );
      }
      Atomics.wait(ctl, word, now, left);
    }
  }
}
