/// <reference lib="dom" />
/**
 * The console with auth enabled, in Chromium against a real member: the login form opens by
 * itself (the member said "user name is empty"); a wrong password shows etcd's error; a user
 * who may read only a prefix sees the permission error for the rest, not a broken page, and
 * the keys of the prefix; logging out and in as root shows everything. The Cluster page's
 * every-member figures ask for a user too (the login opens), and show once logged in.
 */
import assert from "node:assert/strict";
import { runSteps, type Step, typeInto, waitForText, withConsole } from "./console_browser.ts";
import type { TestServer } from "../server/harness.ts";

const steps: Step[] = [];

steps.push([
  "log in through the form; what the user may not read shows the error",
  async (browser) => {
    await withConsole("auth", async ({ page }) => {
      await waitForText(page, "#login .hint", "Authentication is enabled on this cluster");
      assert.equal(await page.$eval("#login", (el) => (el as HTMLElement).hidden), false);

      await typeInto(page, "#login-form input[name=user]", "alice");
      await typeInto(page, "#login-form input[name=password]", "wrong");
      await page.click("#login-form button[type=submit]");
      await waitForText(
        page,
        "#login .notice.error",
        "etcdserver: authentication failed, invalid user ID or password",
      );
      await typeInto(page, "#login-form input[name=password]", "alicepw");
      await page.click("#login-form button[type=submit]");
      await waitForText(page, "header .who", "user alice");
      assert.equal(await page.$eval("#login", (el) => (el as HTMLElement).hidden), true);

      // every key: alice may not; her prefix: she may
      await waitForText(
        page,
        ".keys .notice.error",
        "etcdserver: permission denied (PermissionDenied)",
      );
      await typeInto(page, "#browse input[name=prefix]", "app/");
      await page.click("#browse button[type=submit]");
      await waitForText(page, '#keys tr[data-key="app/a"]', "app/a");
      assert.equal(await page.$('#keys tr[data-key="secret"]'), null);

      await page.click("header button[name=auth]");
      await waitForText(page, "header .who", "anonymous");
      await page.click("header button[name=auth]");
      await typeInto(page, "#login-form input[name=user]", "root");
      await typeInto(page, "#login-form input[name=password]", "rootpw");
      await page.click("#login-form button[type=submit]");
      await waitForText(page, "header .who", "user root");
      await typeInto(page, "#browse input[name=prefix]", "");
      await page.click("#browse button[type=submit]");
      await waitForText(page, '#keys tr[data-key="secret"]', "secret");
    }, { prepare: enableAuth, browser });
  },
]);

steps.push(["a token the member no longer accepts brings the login back", async (browser) => {
  await withConsole("auth relogin", async ({ server, page }) => {
    await waitForText(page, "#login .hint", "Authentication is enabled");
    await typeInto(page, "#login-form input[name=user]", "alice");
    await typeInto(page, "#login-form input[name=password]", "alicepw");
    await page.click("#login-form button[type=submit]");
    await waitForText(page, "header .who", "user alice");
    await typeInto(page, "#browse input[name=prefix]", "app/");
    await page.click("#browse button[type=submit]");
    await waitForText(page, '#keys tr[data-key="app/a"]', "app/a");

    // a new password invalidates alice's token; the client's own re-login then fails too
    await server.ok(
      ["--user", "root:rootpw", "user", "passwd", "alice", "--interactive=false"],
      "newpw\n",
    );
    await page.click("#browse button[type=submit]");
    await waitForText(
      page,
      "#login .hint",
      "Your login is no longer accepted (etcdserver: authentication failed, invalid user ID or " +
        "password (InvalidArgument)): log in again.",
    );
    await typeInto(page, "#login-form input[name=password]", "newpw");
    await page.click("#login-form button[type=submit]");
    await waitForText(page, "header .who", "user alice");
    await page.click("#browse button[type=submit]");
    await waitForText(page, ".keys .summary", "Keys 1–1 of 1 under “app/”");
  }, { prepare: enableAuth, browser });
}]);

steps.push(["the Cluster page's member figures ask for a user", async (browser) => {
  await withConsole("auth cluster", async ({ server, page }) => {
    await waitForText(page, "#login .hint", "Authentication is enabled on this cluster");
    await typeInto(page, "#login-form input[name=user]", "alice");
    await typeInto(page, "#login-form input[name=password]", "alicepw");
    await page.click("#login-form button[type=submit]");
    await waitForText(page, "header .who", "user alice");
    const row = `#members tr[data-member="${server.server.member.config.name}"]`;
    await waitForText(page, `${row} [data-col="status"]`, "up");
    await waitForText(page, `${row} [data-col="revision"]`, /^[1-9]\d*$/);
  }, { prepare: enableAuth, browser, hash: "cluster" });
}]);

Deno.test("console auth", (t) => runSteps(t, steps));

/** Users root (all) and alice (reads app/ only), two keys, and auth on. */
async function enableAuth(s: TestServer): Promise<void> {
  await s.ok(["user", "add", "root:rootpw"]);
  await s.ok(["user", "grant-role", "root", "root"]);
  await s.ok(["role", "add", "reader"]);
  await s.ok(["role", "grant-permission", "reader", "read", "app/", "--prefix"]);
  await s.ok(["user", "add", "alice:alicepw"]);
  await s.ok(["user", "grant-role", "alice", "reader"]);
  await s.ok(["put", "app/a", "1"]);
  await s.ok(["put", "secret", "2"]);
  await s.ok(["auth", "enable"]);
}
