/// <reference lib="dom" />
/**
 * The web console's entry point (bundled into /ui/console.js): the shell with its header
 * (the member, the user, log in / out), the navigation between pages (the page is named in
 * the URL's fragment, #keys), and the login form the session opens when the member asks.
 */
import { ClusterPage } from "./cluster_page.ts";
import { h, replace } from "./dom.ts";
import { KeysPage } from "./keys_page.ts";
import { LeasesPage } from "./leases_page.ts";
import { LoginForm } from "./login.ts";
import { MetricsPage } from "./metrics_page.ts";
import type { Page } from "./page.ts";
import { Session } from "./session.ts";
import { WatchPage } from "./watch_page.ts";

function start(): void {
  const session = new Session(location.origin);
  const login = new LoginForm(session);
  session.onLoginNeeded = (err) => login.open(err);
  const pages: Page[] = [
    new KeysPage(session),
    new WatchPage(session),
    new LeasesPage(session),
    new ClusterPage(session),
    new MetricsPage(),
  ];
  const nav = h("nav", {});
  for (const p of pages) nav.appendChild(h("a", { href: `#${p.id}`, "data-page": p.id }, p.title));
  const who = h("span", { class: "who" });
  const logInOut = h("button", { type: "button", name: "auth" });
  logInOut.addEventListener("click", () => {
    if (session.user === undefined) login.open(undefined);
    else session.logout();
  });
  const showUser = () => {
    replace(who, session.user === undefined ? "anonymous" : `user ${session.user}`);
    replace(logInOut, session.user === undefined ? "Log in" : "Log out");
  };
  session.onChange(showUser);
  showUser();
  const main = h("main", {});
  document.body.append(
    h(
      "header",
      {},
      h("h1", {}, "Concord"),
      h("span", { class: "endpoint" }, location.host),
      nav,
      h("span", { class: "user" }, who, logInOut),
    ),
    main,
    login.el,
  );
  let current: Page | undefined;
  const route = () => {
    const id = location.hash.slice(1);
    const page = pages.find((p) => p.id === id) ?? pages[0];
    if (page === current) return;
    current?.hide();
    current = page;
    replace(main, page.el);
    for (const a of nav.children) {
      a.setAttribute("aria-current", String(a.getAttribute("data-page") === page.id));
    }
    page.show();
  };
  addEventListener("hashchange", route);
  route();
}

start();
