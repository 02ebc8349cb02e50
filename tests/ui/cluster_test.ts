/// <reference lib="dom" />
/**
 * The console's Cluster page in Chromium: on one in-process member, its id as leader, raft
 * term and index, db sizes, no alarms and health; on three `concord serve` processes, the
 * members table shows each member's own figures (as `etcdctl endpoint status` gives them
 * from each member), the picture shows the three members and the leader, and when the leader
 * is killed it redraws with the new leader elected by the two left and the killed member
 * down with its error, without a reload.
 */
import assert from "node:assert/strict";
import { inBrowser, runSteps, type Step, waitForText, withConsole } from "./console_browser.ts";
import { etcdctl, ProcessCluster } from "../cluster/processes.ts";

const steps: Step[] = [];

steps.push(["one member's status, members, alarms and health", async (browser) => {
  await withConsole("cluster one", async ({ server, page }) => {
    const status = await server.ok(["endpoint", "status", "-w", "json"]);
    const id = BigInt(/"member_id":(\d+)/.exec(status)![1]).toString(16);
    await waitForText(page, '#status [data-fact="leader"]', id);
    assert.equal(await page.$eval('#status [data-fact="member"]', (e) => e.textContent), id);
    assert.match(
      await page.$eval('#status [data-fact="term"]', (e) => e.textContent ?? ""),
      /^[1-9]\d*$/,
    );
    await waitForText(page, '#status [data-fact="health"]', "healthy");
    await waitForText(page, '#status [data-fact="alarms"]', "none");
    await waitForText(page, '#status [data-fact="db"]', /\d+(\.\d)? (kB|MB|B)$/);
    await waitForText(page, "#members tbody tr", "(serving)");
    await waitForText(page, "svg.cluster-picture g.member.leader", "leader");
  }, { hash: "cluster", browser });
}]);

steps.push(["the picture follows a leader change among three processes", async (browser) => {
  const c = await ProcessCluster.start("concord", 3);
  try {
    const eps = c.members.map((m) => m.clientUrl).join(",");
    const st = await etcdctl(eps, "endpoint", "status", "-w", "json");
    const leader = /"leader":(\d+)/.exec(st.stdout)![1];
    const ids = [...st.stdout.matchAll(/"member_id":(\d+)/g)].map((m) => m[1]);
    const li = ids.indexOf(leader);
    assert.ok(li >= 0, st.stdout);
    const served = (li + 1) % 3;
    await inBrowser("cluster three", c.members[served].clientUrl, "cluster", async (page) => {
      const leaderName = c.members[li].name;
      await waitForText(page, `svg g.member.leader[data-member="${leaderName}"]`, "leader");
      assert.equal((await page.$$("svg.cluster-picture g.member")).length, 3);
      assert.equal((await page.$$("svg.cluster-picture g.member.follower")).length, 2);
      // every member's own figures, as etcdctl gets them from each member (in endpoint
      // order; its ids are beyond JSON.parse's precision, hence the small fields only)
      const own = JSON.parse(st.stdout) as { Status: { raftTerm: number; version: string } }[];
      assert.equal(own.length, 3);
      for (const [i, m] of c.members.entries()) {
        const s = own[i].Status;
        const row = `#members tr[data-member="${m.name}"]`;
        await waitForText(page, `${row} [data-col="status"]`, "up");
        await waitForText(page, `${row} [data-col="version"]`, s.version);
        await waitForText(page, `${row} [data-col="term"]`, String(s.raftTerm));
        await waitForText(page, `${row} [data-col="revision"]`, /^[1-9]\d*$/);
        await waitForText(page, `${row} [data-col="db"]`, /\d+(\.\d)? (kB|MB|B)$/);
        await waitForText(page, `${row} [data-col="errors"]`, "none");
      }
      await c.signal(li, "SIGKILL");
      const next = await page.waitForFunction(
        (old: string) => {
          const g = document.querySelector("svg g.member.leader");
          const name = g?.getAttribute("data-member");
          return name && name !== old ? name : false;
        },
        { timeout: 15_000, polling: 100 },
        leaderName,
      );
      const now = (await next.jsonValue()) as string;
      assert.notEqual(now, leaderName);
      assert.equal((await page.$$("#members tbody tr")).length, 3);
      // the killed member is drawn as down: the serving member lost its connection to it
      await waitForText(page, `svg g.member.down[data-member="${leaderName}"]`, "down");
      // the serving member could not ask it: its row says so, with no figures
      await waitForText(
        page,
        `#members tr[data-member="${leaderName}"] [data-col="status"]`,
        "down: ",
      );
      assert.equal(
        await page.$eval(
          `#members tr[data-member="${leaderName}"] [data-col="db"]`,
          (e) => e.textContent,
        ),
        "",
      );
      await waitForText(
        page,
        `#members tr[data-member="${leaderName}"] [data-link]`,
        "no connection",
      );
      const third = c.members[3 - li - served].name;
      await waitForText(page, `#members tr[data-member="${third}"] [data-link]`, "connected");
    }, browser);
  } finally {
    await c.stop();
  }
}]);

Deno.test("console cluster", (t) => runSteps(t, steps));
