/// <reference lib="dom" />
/** What every console page is to the shell: an element, and hooks for being shown. */
export interface Page {
  /** The page's name in the URL (#keys). */
  readonly id: string;
  /** The page's name in the navigation. */
  readonly title: string;
  readonly el: HTMLElement;
  /** The page became visible: load, start polling. */
  show(): void;
  /** The page was left: stop polling (a running watch goes on). */
  hide(): void;
}
