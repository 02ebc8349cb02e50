/// <reference lib="dom" />
/**
 * A small live line chart in SVG: the last points of one series with its latest value and
 * the scale's top, no library. A series with no data says why instead of drawing a line.
 */

const SVG = "http://www.w3.org/2000/svg";
const W = 300;
const H = 90;

function el<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
  text?: string,
): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** One chart: a title, a unit formatter and the points so far. */
export class Chart {
  readonly el: HTMLElement;
  readonly #svg: SVGSVGElement;
  readonly #value: HTMLElement;
  readonly #format: (v: number) => string;
  readonly #max: number;
  #points: (number | undefined)[] = [];

  /** A chart keeping the last `max` points. */
  constructor(id: string, title: string, format: (v: number) => string, max = 60) {
    this.#format = format;
    this.#max = max;
    this.#svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img" });
    this.#svg.setAttribute("aria-label", title);
    this.#value = document.createElement("span");
    this.#value.className = "value";
    const head = document.createElement("h3");
    head.append(title, " ", this.#value);
    this.el = document.createElement("figure");
    this.el.className = "chart-box";
    this.el.setAttribute("data-chart", id);
    this.el.append(head, this.#svg);
  }

  /** Adds a point (undefined: no value this time, with `why` shown while there is none). */
  push(v: number | undefined, why: string): void {
    this.#points.push(v);
    if (this.#points.length > this.#max) this.#points.shift();
    this.#draw(why);
  }

  #draw(why: string): void {
    while (this.#svg.firstChild) this.#svg.firstChild.remove();
    const known = this.#points.filter((p): p is number => p !== undefined && isFinite(p));
    const last = this.#points[this.#points.length - 1];
    this.#value.textContent = last === undefined ? "—" : this.#format(last);
    // for tests and tools: the largest value on the chart
    this.el.setAttribute("data-max", known.length === 0 ? "" : String(Math.max(...known)));
    if (known.length === 0) {
      this.#svg.appendChild(el("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, why));
      return;
    }
    const top = Math.max(...known) * 1.1 || 1;
    const step = W / (this.#max - 1);
    const offset = this.#max - this.#points.length;
    let d = "";
    this.#points.forEach((p, i) => {
      if (p === undefined || !isFinite(p)) return;
      const x = (offset + i) * step;
      const y = H - 4 - (p / top) * (H - 16);
      d += `${d === "" ? "M" : "L"}${x.toFixed(1)},${y.toFixed(1)}`;
    });
    this.#svg.appendChild(el("line", { x1: 0, y1: H - 4, x2: W, y2: H - 4, class: "axis" }));
    this.#svg.appendChild(el("text", { x: 2, y: 10, class: "scale" }, this.#format(top)));
    this.#svg.appendChild(el("path", { d, class: "line" }));
  }
}
