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

/** Renders a table as tablewriter does with ALIGN_RIGHT and default settings. */
export function renderTable(head: string[], rows: string[][]): string {
  const title = head.map((h) => {
    const t = h.replaceAll("_", " ").replaceAll(".", " ").trim();
    return (t.length === 0 && h.length > 0 ? " " : t).toUpperCase();
  });
  const width = (s: string) => [...s].length;
  const w = title.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ""))));
  const line = "+" + w.map((n) => "-".repeat(n + 2)).join("+") + "+";
  const center = (t: string, n: number) => {
    const gap = n - width(t);
    const left = Math.floor(gap / 2);
    return " ".repeat(left) + t + " ".repeat(gap - left);
  };
  const out = [line, "| " + title.map((t, i) => center(t, w[i])).join(" | ") + " |", line];
  for (const r of rows) {
    out.push(
      "| " + w.map((n, i) => " ".repeat(n - width(r[i] ?? "")) + (r[i] ?? "")).join(" | ") +
        " |",
    );
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
