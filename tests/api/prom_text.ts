/**
 * Reads the Prometheus text exposition format (what /metrics serves) into families: type,
 * help, the label names of their series and, for histograms, the `le` bounds of the first
 * series; and single samples by series name.
 */

/** One metric family as exposed. */
export interface Family {
  name: string;
  type: string;
  help: string;
  /** Label names seen on the family's series (without le/quantile), sorted. */
  labels: string[];
  /** For histograms: the `le` values of the first series, in order (with +Inf). */
  buckets: string[];
  /** Series lines seen. */
  samples: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The families of an exposition, by name. */
export function parseFamilies(text: string): Map<string, Family> {
  const out = new Map<string, Family>();
  const get = (name: string) => {
    let f = out.get(name);
    if (f === undefined) {
      f = { name, type: "untyped", help: "", labels: [], buckets: [], samples: 0 };
      out.set(name, f);
    }
    return f;
  };
  let current: Family | undefined;
  let firstSeries: string | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("# HELP ")) {
      const rest = line.slice(7);
      const sp = rest.indexOf(" ");
      current = get(rest.slice(0, sp));
      current.help = rest.slice(sp + 1);
      firstSeries = undefined;
      continue;
    }
    if (line.startsWith("# TYPE ")) {
      const [name, type] = line.slice(7).split(" ");
      current = get(name);
      current.type = type;
      continue;
    }
    if (line === "" || line.startsWith("#")) continue;
    const m = SAMPLE.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    if (current === undefined || !m[1].startsWith(current.name)) {
      throw new Error(`sample outside its family: ${line}`);
    }
    const f = current;
    f.samples++;
    const labels = [...(m[2] ?? "").matchAll(LABEL)].map((l) => [l[1], l[2]] as const);
    const names = labels.map((l) => l[0]).filter((n) => n !== "le" && n !== "quantile");
    for (const n of names) if (!f.labels.includes(n)) f.labels.push(n);
    f.labels.sort();
    if (m[1] === `${f.name}_bucket`) {
      const key = labels.filter((l) => l[0] !== "le").map((l) => l.join("=")).join(",");
      firstSeries ??= key;
      if (key === firstSeries) f.buckets.push(labels.find((l) => l[0] === "le")![1]);
    }
  }
  return out;
}

/** The value of the series written exactly `series` (name and labels), or undefined. */
export function sample(text: string, series: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(series + " ")) return Number(line.slice(series.length + 1));
  }
  return undefined;
}
