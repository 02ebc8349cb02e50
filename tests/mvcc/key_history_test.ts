import assert from "node:assert/strict";
import { Rand, testSeed } from "../../lib/base/rand.ts";
import {
  type History,
  historyCompact,
  historyGet,
  historyHas,
  historyKeep,
  historyPut,
  historyTombstone,
  newRevAt,
} from "../../lib/mvcc/key_history.ts";

/** etcd's keyIndex (with PR #18274: a tombstone at the compaction revision is kept), written
 * out plainly with generation objects. */
interface Gen {
  ver: number;
  created: number;
  revs: [number, number][];
}

class KeyIndex {
  gens: Gen[] = [{ ver: 0, created: 0, revs: [] }];
  put(main: number, sub: number) {
    const g = this.gens[this.gens.length - 1];
    if (g.revs.length === 0) g.created = main;
    g.revs.push([main, sub]);
    g.ver++;
  }
  tombstone(main: number, sub: number): boolean {
    if (this.gens[this.gens.length - 1].revs.length === 0) return false;
    this.put(main, sub);
    this.gens.push({ ver: 0, created: 0, revs: [] });
    return true;
  }
  get(at: number): [number, number, number, number] | undefined {
    const last = this.gens.length - 1;
    for (let cg = last; cg >= 0; cg--) {
      const g = this.gens[cg];
      if (g.revs.length === 0) continue;
      if (cg !== last && g.revs[g.revs.length - 1][0] <= at) return undefined;
      if (g.revs[0][0] <= at) {
        for (let n = g.revs.length - 1; n >= 0; n--) {
          if (g.revs[n][0] <= at) {
            return [g.revs[n][0], g.revs[n][1], g.created, g.ver - (g.revs.length - n - 1)];
          }
        }
      }
    }
    return undefined;
  }
  doCompact(at: number, avail: Set<string>): [number, number] {
    let gi = 0;
    while (gi < this.gens.length - 1) {
      const g = this.gens[gi];
      if (g.revs[g.revs.length - 1][0] >= at) break;
      gi++;
    }
    const g = this.gens[gi];
    for (let i = g.revs.length - 1; i >= 0; i--) {
      if (g.revs[i][0] <= at) {
        avail.add(g.revs[i].join("_"));
        return [gi, i];
      }
    }
    return [gi, -1];
  }
  compact(at: number): boolean {
    const avail = new Set<string>();
    const [gi, ri] = this.doCompact(at, avail);
    const g = this.gens[gi];
    if (g.revs.length && ri !== -1) g.revs = g.revs.slice(ri);
    this.gens = this.gens.slice(gi);
    return this.gens.length === 1 && this.gens[0].revs.length === 0;
  }
  keep(at: number): string | undefined {
    const avail = new Set<string>();
    const [gi, ri] = this.doCompact(at, avail);
    const g = this.gens[gi];
    if (ri === -1) return undefined;
    if (ri === g.revs.length - 1 && gi !== this.gens.length - 1) return undefined;
    return g.revs[ri].join("_");
  }
}

Deno.test("key history matches etcd's keyIndex on random histories", () => {
  const seed = testSeed();
  console.log(`seed=${seed}`);
  const r = new Rand(seed);
  const out = newRevAt();
  for (let round = 0; round < 300; round++) {
    const ki = new KeyIndex();
    let h: History | undefined;
    let rev = 1;
    let compacted = 0;
    for (let step = 0; step < 40; step++) {
      rev += r.range(1, 3);
      const sub = r.chance(0.7) ? 0 : r.int(3);
      const x = r.int(10);
      if (x < 6 || h === undefined) {
        ki.put(rev, sub);
        h = historyPut(h, rev, sub);
      } else if (x < 8) {
        const ok = ki.tombstone(rev, sub);
        const nh = historyTombstone(h, rev, sub);
        assert.equal(nh !== undefined, ok, `seed=${seed}`);
        if (nh) h = nh;
      } else {
        const at = r.range(compacted, rev + 1);
        compacted = at;
        const want = ki.keep(at);
        assert.equal(historyKeep(h, at, out) ? `${out.main}_${out.sub}` : undefined, want);
        const empty = ki.compact(at);
        const nh = historyCompact(h, at);
        assert.equal(nh === undefined, empty, `seed=${seed} round ${round}`);
        if (nh === undefined) {
          h = undefined;
          ki.gens = [{ ver: 0, created: 0, revs: [] }];
          continue;
        }
        h = nh;
      }
      for (let at = compacted; at <= rev + 1; at++) {
        const want = ki.get(at);
        const cur: History = h;
        const got: number[] | undefined = historyGet(cur, at, out)
          ? [out.main, out.sub, out.created, out.ver]
          : undefined;
        assert.deepEqual(got, want, `seed=${seed} round ${round} step ${step} at ${at}`);
      }
      for (const g of ki.gens) {
        for (const [m, s] of g.revs) assert.ok(historyHas(h, m, s));
      }
    }
  }
});
