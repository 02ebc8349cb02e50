/// <reference lib="dom" />
/**
 * The login form, shown over the page when the member asks for a user (auth is on and the
 * console has no valid login). It checks the password with Authenticate; the client then
 * sends the user's token in each call's metadata and fetches a new one when the server
 * calls it invalid.
 */
import { Errors } from "../client/browser.ts";
import { field, h, replace } from "./dom.ts";
import { errorText } from "./notice.ts";
import type { Session } from "./session.ts";

/** The login overlay. */
export class LoginForm {
  readonly el: HTMLElement;
  readonly #why = h("p", { class: "hint" });
  readonly #error = h("p", { class: "notice error", role: "alert" });
  readonly #form: HTMLFormElement;

  /** Made once by the shell; hidden until `open`. */
  constructor(session: Session) {
    this.#form = h(
      "form",
      { id: "login-form", class: "stack panel" },
      h("h2", {}, "Log in"),
      this.#why,
      h(
        "label",
        {},
        "User ",
        h("input", { name: "user", autocomplete: "username", required: true }),
      ),
      h(
        "label",
        {},
        "Password ",
        h("input", { name: "password", type: "password", autocomplete: "current-password" }),
      ),
      this.#error,
      h("div", { class: "row" }, h("button", { type: "submit" }, "Log in")),
    );
    this.#form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      replace(this.#error);
      try {
        await session.login(field(this.#form, "user"), field(this.#form, "password"));
        this.close();
      } catch (err) {
        replace(this.#error, errorText(err));
      }
    });
    const cancel = h("button", { type: "button", name: "cancel" }, "Cancel");
    cancel.addEventListener("click", () => this.close());
    this.#form.querySelector(".row")!.appendChild(cancel);
    this.el = h("div", { id: "login", class: "overlay", hidden: true }, this.#form);
  }

  /** Shows the form, saying why the member asked (`err`; undefined: the user asked). */
  open(err: unknown): void {
    if (!this.el.hidden) return;
    replace(
      this.#why,
      err === undefined
        ? "Log in as a user of this cluster."
        : Errors.invalidAuthToken.is(err) || Errors.authFailed.is(err)
        ? `Your login is no longer accepted (${errorText(err)}): log in again.`
        : "Authentication is enabled on this cluster: log in to continue.",
    );
    replace(this.#error);
    this.el.hidden = false;
    (this.#form.elements.namedItem("user") as HTMLInputElement).focus();
  }

  /** Hides the form. */
  close(): void {
    this.el.hidden = true;
    (this.#form.elements.namedItem("password") as HTMLInputElement).value = "";
  }
}
