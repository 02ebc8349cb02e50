/**
 * etcdctl's `-w table` format (printer_table.go with olekukonko/tablewriter): upper-cased
 * centred headers, right-aligned cells, `+---+` borders. Only member list, the endpoint
 * commands and snapshot status print tables; everything else is refused as etcdctl does.
 */
import {
  type CtlOutput,
  type DbStatus,
  type EpHashKV,
  type EpHealth,
  type EpStatus,
  type MemberListResp,
  tables,
  UnsupportedPrinter,
} from "./ctl_print.ts";
import { humanBytes } from "./ctl_gofmt.ts";

const MAX_COL_WIDTH = 30;

/** tablewriter's WrapWords: the line breaks of least raggedness (squared slack) for `lim`. */
function wrapWords(words: string[], lim: number): string[][] {
  const n = words.length;
  const width = (w: string) => [...w].length;
  const len: number[][] = [];
  for (let i = 0; i < n; i++) {
    len[i] = [];
    len[i][i] = width(words[i]);
    for (let j = i + 1; j < n; j++) len[i][j] = len[i][j - 1] + 1 + width(words[j]);
  }
  const brk = new Array<number>(n).fill(0);
  const cost = new Array<number>(n).fill(2 ** 31 - 1);
  for (let i = n - 1; i >= 0; i--) {
    if (len[i][n - 1] <= lim) {
      cost[i] = 0;
      brk[i] = n;
      continue;
    }
    for (let j = i + 1; j < n; j++) {
      const d = lim - len[i][j - 1];
      let c = d * d + cost[j];
      if (len[i][j - 1] > lim) c += 100_000; // too-long lines cost more
      if (c < cost[i]) {
        cost[i] = c;
        brk[i] = j;
      }
    }
  }
  const lines: string[][] = [];
  for (let i = 0; i < n; i = brk[i]) lines.push(words.slice(i, brk[i]));
  return lines;
}

/** tablewriter's WrapString: words split on single spaces, wrapped at `lim` (or the longest). */
function wrapString(s: string, lim: number): string[] {
  const words = s.replaceAll("\n", " ").split(" ");
  for (const w of words) lim = Math.max(lim, [...w].length);
  return wrapWords(words, lim).map((l) => l.join(" "));
}

/**
 * Renders a table as etcd 3.4's tablewriter does with ALIGN_RIGHT and default settings:
 * columns at most 30 wide unless a word is longer, wider cells wrapped onto more lines.
 */
export function renderTable(head: string[], rows: string[][]): string {
  const title = head.map((h) => {
    const t = h.replaceAll("_", " ").replaceAll(".", " ").trim();
    return (t.length === 0 && h.length > 0 ? " " : t).toUpperCase();
  });
  const width = (s: string) => [...s].length;
  const cs = title.map((t) => Math.min(width(t), MAX_COL_WIDTH));
  // cells are measured in order, each wrapped at its column's width so far (parseDimension)
  const cells = rows.map((r) =>
    title.map((_, i) => {
      const str = r[i] ?? "";
      cs[i] = Math.max(cs[i], Math.min(width(str), MAX_COL_WIDTH));
      const lines = wrapString(str, cs[i]);
      cs[i] = Math.max(cs[i], ...lines.map(width));
      return lines;
    })
  );
  const line = "+" + cs.map((n) => "-".repeat(n + 2)).join("+") + "+";
  const center = (t: string, n: number) => {
    const gap = n - width(t);
    const left = Math.floor(gap / 2);
    return " ".repeat(left) + t + " ".repeat(gap - left);
  };
  const out = [line, "| " + title.map((t, i) => center(t, cs[i])).join(" | ") + " |", line];
  for (const r of cells) {
    const height = Math.max(1, ...r.map((c) => c.length));
    for (let k = 0; k < height; k++) {
      out.push(
        "| " + cs.map((n, i) => {
          const t = r[i][k] ?? "";
          return " ".repeat(n - width(t)) + t;
        }).join(" | ") + " |",
      );
    }
  }
  out.push(line); // tablewriter closes the table even when it has no rows
  return out.join("\n") + "\n";
}

/** `-w table`. */
export class TablePrinter extends UnsupportedPrinter {
  constructor(private readonly o: CtlOutput) {
    super("table");
  }
  private t([head, rows]: [string[], string[][]]): void {
    this.o.out(renderTable(head, rows));
  }
  override memberList(r: MemberListResp): void {
    this.t(tables.memberList(r));
  }
  override endpointHealth(hs: EpHealth[]): void {
    this.t(tables.endpointHealth(hs));
  }
  override endpointStatus(ss: EpStatus[]): void {
    this.t(tables.endpointStatus(ss, humanBytes));
  }
  override endpointHashKV(hs: EpHashKV[]): void {
    this.t(tables.endpointHashKV(hs));
  }
  override dbStatus(s: DbStatus): void {
    this.t(tables.dbStatus(s, humanBytes));
  }
}
