// Browser end-to-end tests: the demo page and the presence widget, driven in headless
// Chromium against the real server binary, as two or more people would use them.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  WAIT_MS,
  freshPr,
  launchBrowser,
  openAs,
  screenshot,
  startServer,
  waitForPresence,
  waitForState,
} from "./harness.mjs";

describe("presence widget on the demo page", () => {
  let browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  // Proves the whole two-person flow: presence, join notice, typing, chat, and leave.
  test("alice and bob see each other, typing, messages and bob leaving", async () => {
    const server = await startServer();
    const pr = freshPr();
    try {
      const alice = await openAs(browser, server, { pr, user: "alice" });
      await waitForState(alice.page, "live");
      await waitForPresence(alice.page, 1, ["alice"]);

      const bob = await openAs(browser, server, { pr, user: "bob" });
      await waitForState(bob.page, "live");
      await waitForPresence(alice.page, 2, ["alice", "bob"]);
      await waitForPresence(bob.page, 2, ["alice", "bob"]);
      await alice.page
        .locator("#presence .diffy-notice", { hasText: "bob has joined the chat" })
        .waitFor({ timeout: WAIT_MS });
      assert.equal(
        await alice.page.locator('#presence .diffy-user--me').getAttribute("data-username"),
        "alice",
      );
      await screenshot(alice.page, "01-alice-sees-bob-join");

      const input = bob.page.locator("#chat textarea");
      await input.pressSequentially("LGTM, one nit on the", { delay: 15 });
      await alice.page
        .locator("#chat .diffy-typing", { hasText: "bob is typing…" })
        .waitFor({ timeout: WAIT_MS });
      await screenshot(alice.page, "02-alice-sees-bob-typing");

      await input.pressSequentially(" retry cap", { delay: 15 });
      await input.press("Enter");
      const line = alice.page.locator("#chat .diffy-message", { hasText: "LGTM, one nit on the retry cap" });
      await line.waitFor({ timeout: WAIT_MS });
      assert.equal(await line.locator(".diffy-message__author").textContent(), "bob");
      assert.match(await line.locator(".diffy-message__time").textContent(), /^\d\d:\d\d$/);
      await alice.page.waitForFunction(
        () => document.querySelector("#chat .diffy-typing")?.textContent === "",
        null,
        { timeout: WAIT_MS },
      );
      await bob.page
        .locator("#chat .diffy-message--mine", { hasText: "LGTM, one nit on the retry cap" })
        .waitFor({ timeout: WAIT_MS });
      assert.equal(await input.inputValue(), "", "the input is cleared after sending");
      await screenshot(bob.page, "03-bob-sent-a-message");

      await bob.context.close();
      await waitForPresence(alice.page, 1, ["alice"]);
      await alice.page
        .locator("#presence .diffy-notice", { hasText: `bob left PR ${pr}` })
        .waitFor({ timeout: WAIT_MS });
      await screenshot(alice.page, "04-alice-sees-bob-leave");

      assert.deepEqual(alice.dialogs, []);
      assert.deepEqual(alice.errors, []);
      await alice.context.close();
    } finally {
      await server.stop();
    }
  });

  // Proves that both widgets reconnect on their own after a server restart and re-join.
  // Proves that the page's heaviest files reach the browser compressed and still work.
  // Proves that the widget's files travel gzipped, and that a browser asks whether they
  // changed before reusing them: their names stay the same across releases.
  test("the widget's wasm and scripts are served gzipped and revalidated", async () => {
    const server = await startServer();
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const encodings = new Map();
      const caching = new Map();
      page.on("response", async (response) => {
        const name = new URL(response.url()).pathname.split("/").pop();
        if (/\.(wasm|js)$/.test(name)) {
          const headers = await response.allHeaders();
          encodings.set(name, headers["content-encoding"] ?? "none");
          caching.set(name, headers["cache-control"] ?? "none");
        }
      });
      await page.goto(`${server.url}/?pr=${freshPr()}&user=alice`);
      await waitForState(page, "live");
      for (const name of ["diffy-widget_bg.wasm", "diffy-widget.js", "diffy-presence.js"]) {
        assert.equal(encodings.get(name), "gzip", `${name}: ${JSON.stringify([...encodings])}`);
        assert.equal(caching.get(name), "no-cache", `${name}: ${JSON.stringify([...caching])}`);
      }
    } finally {
      await context.close();
      await server.stop();
    }
  });

  test("after a server restart both widgets return to live with the right list", async () => {
    let server = await startServer();
    const pr = freshPr();
    try {
      const alice = await openAs(browser, server, { pr, user: "alice" });
      const bob = await openAs(browser, server, { pr, user: "bob" });
      await waitForPresence(alice.page, 2, ["alice", "bob"]);
      await waitForPresence(bob.page, 2, ["alice", "bob"]);

      const { port } = server;
      await server.stop();
      await alice.page
        .locator('#presence .diffy-status:not([data-state="live"])')
        .waitFor({ timeout: WAIT_MS });
      // While the server is down the chat claims no count it cannot know.
      assert.equal((await alice.page.locator("#chat .diffy-chat__meta").textContent()).trim(), "not connected");
      await screenshot(alice.page, "05-alice-reconnecting");

      server = await startServer({ port });
      for (const person of [alice, bob]) {
        await waitForState(person.page, "live");
        await waitForPresence(person.page, 2, ["alice", "bob"]);
        assert.equal((await person.page.locator("#chat .diffy-chat__meta").textContent()).trim(), "2 online");
      }
      await screenshot(bob.page, "06-bob-live-again");

      // The server agrees: both are in the room again.
      const presence = await (await fetch(`${server.url}/api/pull-requests/${pr}/presence`)).json();
      assert.equal(presence.userCount, 2);
      assert.deepEqual([...presence.users].sort(), ["alice", "bob"]);

      assert.deepEqual([...alice.errors, ...bob.errors], []);
      await alice.context.close();
      await bob.context.close();
    } finally {
      await server.stop();
    }
  });

  // Proves that names and messages are rendered as text: markup in them never runs.
  test("a hostile name and message render as plain text", async () => {
    const server = await startServer();
    const pr = freshPr();
    const name = "<img src=x onerror=alert(1)>";
    const text = "<script>alert(2)</script><b>not bold</b>";
    try {
      const mallory = await openAs(browser, server, { pr, user: name, colorScheme: "dark" });
      await waitForState(mallory.page, "live");
      await waitForPresence(mallory.page, 1, [name]);
      assert.equal(await mallory.page.locator("#presence .diffy-user__name").textContent(), name);

      const input = mallory.page.locator("#chat textarea");
      await input.fill(text);
      await input.press("Enter");
      const body = mallory.page.locator("#chat .diffy-message__text");
      await body.waitFor({ timeout: WAIT_MS });
      assert.equal(await body.textContent(), text);
      assert.equal(await mallory.page.locator("#presence img, #chat img, #chat b, #chat script").count(), 0);
      await screenshot(mallory.page, "07-hostile-name-as-text-dark");

      assert.deepEqual(mallory.dialogs, [], "no dialog may fire");
      assert.deepEqual(mallory.errors, []);
      await mallory.context.close();
    } finally {
      await server.stop();
    }
  });

  // Proves that an over-long message is refused in the widget with a visible reason.
  test("an over-long message is refused with a visible reason", async () => {
    const server = await startServer();
    const pr = freshPr();
    try {
      const alice = await openAs(browser, server, { pr, user: "alice" });
      await waitForState(alice.page, "live");
      const input = alice.page.locator("#chat textarea");
      await input.fill("x".repeat(4_001));
      const hint = alice.page.locator("#chat .diffy-compose__hint.is-error");
      await hint.waitFor({ timeout: WAIT_MS });
      assert.match(await hint.textContent(), /Too long: 4001 of at most 4000 characters/);
      assert.equal(await alice.page.locator("#chat .diffy-compose__send").isDisabled(), true);
      await input.press("Enter");
      assert.equal(await alice.page.locator("#chat .diffy-message").count(), 0);
      await screenshot(alice.page, "08-over-long-message-refused");
      await alice.context.close();
    } finally {
      await server.stop();
    }
  });

  // Proves that a refusal from the server is shown with its reason, that the refused
  // message is handed back to its writer instead of lost, and that the notice can be
  // dismissed.
  test("a message the server refuses shows why, comes back to the box, and the notice can be dismissed", async () => {
    const server = await startServer({ args: ["--messages-per-minute", "1"] });
    const pr = freshPr();
    try {
      const alice = await openAs(browser, server, { pr, user: "alice" });
      await waitForState(alice.page, "live");
      const input = alice.page.locator("#chat textarea");
      for (const text of ["first", "second"]) {
        await input.fill(text);
        await input.press("Enter");
      }
      const problem = alice.page.locator("#chat .diffy-problem");
      await problem.waitFor({ timeout: WAIT_MS });
      assert.match(await problem.textContent(), /Message not sent: .*\(rate_limited\)/);
      await alice.page.waitForFunction(
        () => document.querySelector("#chat textarea").value === "second",
        null,
        { timeout: WAIT_MS },
      );
      const log = await alice.page.locator("#chat .diffy-message__text").allTextContents();
      assert.deepEqual(log, ["first"]);
      await alice.page.locator("#chat .diffy-problem__dismiss").click();
      await problem.waitFor({ state: "detached", timeout: WAIT_MS });
      assert.deepEqual(alice.errors, []);
      await alice.context.close();
    } finally {
      await server.stop();
    }
  });

  // Proves that a widget the server refuses for good says why in its bar, where the
  // reviewer looks, and keeps saying it after the alert is dismissed.
  test("a widget whose origin is refused says so in the bar", async () => {
    const server = await startServer({ args: ["--allowed-origins", "https://review.example"] });
    try {
      const viewer = await openAs(browser, server, { pr: freshPr(), user: "alice" });
      await waitForState(viewer.page, "refused");
      const reason = viewer.page.locator("#presence .diffy-bar__problem");
      await reason.waitFor({ timeout: WAIT_MS });
      assert.match(await reason.textContent(), /origin not allowed/);
      await viewer.page.locator("#chat .diffy-problem__dismiss").click();
      assert.match(await reason.textContent(), /origin not allowed/);
      await viewer.context.close();
    } finally {
      await server.stop();
    }
  });

  // Proves that the page asks for a name when the URL gives none, and joins with it.
  test("the demo page asks for a name when none is given", async () => {
    const server = await startServer();
    const pr = freshPr();
    try {
      const guest = await openAs(browser, server, { pr });
      await guest.page.locator("#name-input").waitFor({ timeout: WAIT_MS });
      await screenshot(guest.page, "09-name-prompt");
      await guest.page.locator("#name-input").fill("carol");
      await guest.page.locator("#name-input").press("Enter");
      await waitForState(guest.page, "live");
      await waitForPresence(guest.page, 1, ["carol"]);
      assert.match(guest.page.url(), /user=carol/);
      await guest.context.close();
    } finally {
      await server.stop();
    }
  });

  // Proves mount()/destroy() from JavaScript and that widgets on one page are independent.
  test("mount() and destroy() run several independent widgets on one page", async () => {
    const server = await startServer();
    const [first, second] = [freshPr(), freshPr()];
    try {
      const host = await openAs(browser, server, { pr: freshPr(), user: "host" });
      await waitForState(host.page, "live");
      await host.page.evaluate(async ({ first, second }) => {
        const { mount } = await window.DiffyPresence.ready;
        for (const [id, pr, user] of [["one", first, "dave"], ["two", second, "erin"]]) {
          const element = document.createElement("div");
          element.id = id;
          document.body.append(element);
          window[`handle_${id}`] = mount(element, { pullRequestId: pr, username: user });
        }
      }, { first, second });
      await waitForPresence(host.page, 1, ["dave"], "#one");
      await waitForPresence(host.page, 1, ["erin"], "#two");
      const presenceOf = async (pr) =>
        (await fetch(`${server.url}/api/pull-requests/${pr}/presence`)).json();
      assert.deepEqual((await presenceOf(first)).users, ["dave"]);

      await host.page.evaluate(() => window.handle_one.destroy());
      assert.equal(await host.page.locator("#one *").count(), 0, "destroy() empties the element");
      // An explicit leave: the room is empty at once, without a grace period.
      const deadline = Date.now() + WAIT_MS;
      while ((await presenceOf(first)).userCount !== 0) {
        assert.ok(Date.now() < deadline, "dave never left");
        await new Promise((resolvePromise) => setTimeout(resolvePromise, 50));
      }
      await waitForState(host.page, "live", "#two");
      assert.deepEqual((await presenceOf(second)).users, ["erin"]);
      await host.page.evaluate(() => window.handle_one.destroy());
      assert.deepEqual(host.errors, []);
      await host.context.close();
    } finally {
      await server.stop();
    }
  });
});
