/**
 * Time-ordered queues of leases, the lessor's two schedules: when each lease is next due to
 * expire (one entry per lease, updated in place on renew) and when each lease is next due for
 * a checkpoint. Both are binary min-heaps, so finding the next due lease is O(1) and every
 * update O(log n), however many leases there are.
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

  /** The earliest entry, without removing it. */
  peek(): LeaseAt | undefined {
    const top = this.#heap[0];
    return top ? { id: top.id, time: top.time } : undefined;
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

/** A plain min-heap by time; a lease may appear more than once (etcd's LeaseQueue). */
export class LeaseTimeQueue {
  #heap: LeaseAt[] = [];

  /** Number of entries. */
  get length(): number {
    return this.#heap.length;
  }

  /** Adds an entry. */
  push(item: LeaseAt): void {
    const h = this.#heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p].time <= h[i].time) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
  }

  /** The earliest entry, without removing it. */
  peek(): LeaseAt | undefined {
    return this.#heap[0];
  }

  /** Removes and returns the earliest entry. */
  pop(): LeaseAt | undefined {
    const h = this.#heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        let m = l;
        if (l + 1 < h.length && h[l + 1].time < h[l].time) m = l + 1;
        if (h[i].time <= h[m].time) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }

  /** Removes every entry. */
  clear(): void {
    this.#heap = [];
  }
}
