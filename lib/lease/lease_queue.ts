/**
 * Time-ordered index of leases, for the lessor's two schedules: when each lease is next due to
 * expire (updated in place on renew) and when each lease is next due for a checkpoint. One entry
 * per lease, removed when the lease is revoked, so the schedules never outgrow the live leases.
 * A binary min-heap with positions by id: the next due lease is O(1), every update O(log n).
 */
import type { LeaseId } from "../base/types.ts";

/** A lease and the time (clock milliseconds) something is due for it. */
export interface LeaseAt {
  id: LeaseId;
  time: number;
}

interface Slot extends LeaseAt {
  index: number;
}

/** A min-heap by time holding at most one entry per lease (etcd's LeaseExpiredNotifier). */
export class LeaseTimeIndex {
  #heap: Slot[] = [];
  #byId = new Map<LeaseId, Slot>();

  /** Number of leases queued. */
  get length(): number {
    return this.#heap.length;
  }

  /** Adds the lease or moves it to `time`. */
  set(id: LeaseId, time: number): void {
    const slot = this.#byId.get(id);
    if (slot) {
      const earlier = time < slot.time;
      slot.time = time;
      if (earlier) this.#up(slot.index);
      else this.#down(slot.index);
      return;
    }
    const fresh: Slot = { id, time, index: this.#heap.length };
    this.#heap.push(fresh);
    this.#byId.set(id, fresh);
    this.#up(fresh.index);
  }

  /** The earliest entry, without removing it (a live view: read it before changing the index). */
  peek(): Readonly<LeaseAt> | undefined {
    return this.#heap[0];
  }

  /** Removes the lease's entry if present. */
  delete(id: LeaseId): void {
    const slot = this.#byId.get(id);
    if (!slot) return;
    this.#byId.delete(id);
    const last = this.#heap.pop()!;
    if (last !== slot) {
      last.index = slot.index;
      this.#heap[slot.index] = last;
      this.#up(last.index);
      this.#down(last.index);
    }
  }

  /** Removes every entry. */
  clear(): void {
    this.#heap = [];
    this.#byId.clear();
  }

  #less(i: number, j: number): boolean {
    return this.#heap[i].time < this.#heap[j].time;
  }

  #swap(i: number, j: number): void {
    const h = this.#heap;
    [h[i], h[j]] = [h[j], h[i]];
    h[i].index = i;
    h[j].index = j;
  }

  #up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(i, parent)) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(i: number): void {
    const n = this.#heap.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      let m = l;
      if (l + 1 < n && this.#less(l + 1, l)) m = l + 1;
      if (!this.#less(m, i)) break;
      this.#swap(i, m);
      i = m;
    }
  }
}
