/**
 * Where a Concord page file's bytes go: `deno run -A bench/page_stats.ts <file>...` prints, per
 * file and per bucket tree, its leaf and branch pages, multi-page leaves, leaf fill, and the
 * key, value and header bytes they hold, with the free and freelist pages of the file
 * (lib/backend/layout_stats.ts). Opens each file under its lock: not for a live member's file
 * (copy it first, as bench/footprint.ts --save=DIR does).
 */
import { RealDisk } from "../lib/io/real_disk.ts";
import { DB } from "../lib/backend/db.ts";
import { FILL_CLASSES, type LayoutStats, layoutStats } from "../lib/backend/layout_stats.ts";

const mb = (b: number) => (b / 1e6).toFixed(2);
const pct = (a: number, b: number) => (b === 0 ? "-" : `${(100 * a / b).toFixed(0)}%`);

/** The census as text. */
export function formatLayout(path: string, s: LayoutStats): string {
  const ps = s.pageSize;
  const lines = [
    `${path}: ${s.pages} pages of ${ps} B = ${mb(s.pages * ps)} MB; free ${s.freePages} (${
      mb(s.freePages * ps)
    } MB), freelist ${s.freelistPages} pages, meta 2`,
    "| bucket | leaves | leaf pages | multi-page | 1-element | elements | key B | value B | headers B | leaf fill | branches | branch pages |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const t of s.trees) {
    const leafBytes = t.leafPages * ps;
    const leafUsed = t.keyBytes + t.valueBytes + t.headerBytes;
    lines.push(
      `| ${
        t.name || "(root)"
      } | ${t.leaves} | ${t.leafPages} | ${t.multiPageLeaves} | ${t.singleElementLeaves} | ${t.elements} | ${t.keyBytes} | ${t.valueBytes} | ${t.headerBytes} | ${
        pct(leafUsed, leafBytes)
      } | ${t.branches} | ${t.branchPages} |`,
    );
  }
  for (const t of s.trees) {
    if (t.leaves < 10) continue;
    const spans = [...t.leafSpans].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}p:${v}`);
    const fill = t.leafFill.map((n, i) =>
      `${i * 100 / FILL_CLASSES}-${(i + 1) * 100 / FILL_CLASSES}%:${n}`
    ).filter((x) => !x.endsWith(":0"));
    lines.push(`${t.name}: leaf spans ${spans.join(" ")}; leaf fill ${fill.join(" ")}`);
  }
  return lines.join("\n");
}

if (import.meta.main) {
  if (Deno.args.length === 0) {
    console.error("usage: deno run -A bench/page_stats.ts <page file>...");
    Deno.exit(2);
  }
  for (const path of Deno.args) {
    const db = await DB.open(new RealDisk(), path);
    try {
      console.log(formatLayout(path, db.view((tx) => layoutStats(tx, tx.meta))));
    } finally {
      await db.close();
    }
  }
}
