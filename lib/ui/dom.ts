/// <reference lib="dom" />
/**
 * The console's one DOM helper: `h(tag, attrs, ...children)` builds an element. Attributes
 * are set as attributes (never `style`, which the console's CSP forbids inline), `on…`
 * functions become listeners, and children are nodes or text (false and undefined skipped),
 * so no markup is ever parsed from strings and a key or value can never inject HTML.
 */

/** What `h` accepts as a child. */
export type Child = Node | string | number | false | undefined | null;

/** Attribute values; functions under `on…` names are event listeners. */
export type Attrs = Record<string, string | number | boolean | undefined | EventListener>;

/** A new element of `tag` with `attrs` and `children`. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/** Appends `children` to `el`. */
export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    el.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el` with `children`. */
export function replace(el: Node, ...children: Child[]): void {
  while (el.firstChild) el.removeChild(el.firstChild);
  append(el, children);
}

/** The value of the named control of a form, as typed (untrimmed: keys may hold spaces). */
export function field(form: HTMLFormElement, name: string): string {
  const el = form.elements.namedItem(name);
  if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement) return el.value;
  if (el instanceof HTMLSelectElement) return el.value;
  throw new Error(`the form has no field ${name}`);
}
