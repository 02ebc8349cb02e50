/// <reference lib="dom" />
/**
 * A page's status line: what the last action did, or why it failed, as the server said it
 * (etcd's message and gRPC code), so a permission error reads as one instead of breaking the
 * page.
 */
import { EtcdError, GrpcCode } from "../client/browser.ts";
import { h, replace } from "./dom.ts";

/** The text an error shows: etcd's message and the gRPC code's name. */
export function errorText(err: unknown): string {
  if (err instanceof EtcdError) return `${err.message} (${GrpcCode[err.code] ?? err.code})`;
  return err instanceof Error ? err.message : String(err);
}

/** One status line. */
export class Notice {
  readonly el: HTMLElement = h("p", { class: "notice", role: "status" });

  /** Shows a failure. */
  error(err: unknown): void {
    this.el.className = "notice error";
    this.el.setAttribute("role", "alert");
    replace(this.el, errorText(err));
  }

  /** Shows what succeeded. */
  ok(text: string): void {
    this.el.className = "notice ok";
    this.el.setAttribute("role", "status");
    replace(this.el, text);
  }

  /** Clears the line if it shows a failure (a success message stays until replaced). */
  clearError(): void {
    if (this.el.classList.contains("error")) this.clear();
  }

  /** Clears the line. */
  clear(): void {
    this.el.className = "notice";
    replace(this.el);
  }
}
