// Browser tests of the widget's layout on the demo page: at phone widths, in a crowded room
// with a 64-character name, a join notice and someone typing, no part of the presence bar
// covers the page's tab bar or another part of the bar, nothing runs past the viewport, and
// at desktop width the bar keeps its one-line look.
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

/** The longest name the server accepts: 64 characters, with nowhere to break a line. */
const LONG_NAME = "Hubert_Blaine_Wolfeschlegelsteinhausenbergerdorff_the_reviewer42";
/** The others in the crowded room besides alice, bob and the long name: twelve in all. */
const CROWD = Array.from({ length: 9 }, (_, index) => `reviewer-${index + 1}`);

/** Half a pixel of slack for subpixel layout. */
const SLACK = 0.5;

/** Whether two boxes share any area (touching edges do not count). */
const overlap = (a, b) =>
  Math.min(a.right, b.right) - Math.max(a.left, b.left) > SLACK &&
  Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > SLACK;

/** Whether `inner` lies within `outer` from left to right. */
const within = (inner, outer) => inner.left >= outer.left - SLACK && inner.right <= outer.right + SLACK;

const show = (box) => `[${[box.left, box.top, box.right, box.bottom].map(Math.round).join(", ")}]`;

/**
 * Fills a fresh room as alice sees it at `width`: bob in a browser context of his own, nine
 * reviewers and the long name mounted through mount() on a third page (the long name last,
 * so that its notice is the newest), then bob starts typing.
 */
async function crowdedRoom(browser, server, width) {
  const pr = freshPr();
  const alice = await openAs(browser, server, { pr, user: "alice", width });
  await waitForState(alice.page, "live");
  const bob = await openAs(browser, server, { pr, user: "bob" });
  await waitForState(bob.page, "live");

  const host = await openAs(browser, server, { pr: freshPr() });
  await host.page.evaluate(
    async ({ pr, names }) => {
      const { mount } = await window.DiffyPresence.ready;
      for (const name of names) {
        const element = document.createElement("div");
        document.body.append(element);
        mount(element, { pullRequestId: pr, username: name });
      }
    },
    { pr, names: CROWD },
  );
  await alice.page.waitForFunction(
    () => document.querySelector("#presence .diffy-count__value")?.textContent === "11",
    null,
    { timeout: WAIT_MS },
  );
  await host.page.evaluate(
    ({ pr, name }) => {
      const element = document.createElement("div");
      document.body.append(element);
      window.DiffyPresence.mount(element, { pullRequestId: pr, username: name });
    },
    { pr, name: LONG_NAME },
  );
  await alice.page
    .locator("#presence .diffy-notice", { hasText: `${LONG_NAME} has joined the chat` })
    .waitFor({ timeout: WAIT_MS });
  await alice.page.waitForFunction(
    () => document.querySelector("#presence .diffy-count__value")?.textContent === "12",
    null,
    { timeout: WAIT_MS },
  );

  await bob.page.locator("#chat textarea").pressSequentially("LGTM, one nit", { delay: 15 });
  await alice.page
    .locator("#chat .diffy-typing", { hasText: "bob is typing…" })
    .waitFor({ timeout: WAIT_MS });
  return { alice, others: [bob, host] };
}

/** The boxes of the presence bar's parts and of the page's tab bar, in viewport pixels. */
function layoutOf(page) {
  return page.evaluate(() => {
    const box = (element) => {
      const { left, top, right, bottom, width, height } = element.getBoundingClientRect();
      return { left, top, right, bottom, width, height };
    };
    const one = (selector) => box(document.querySelector(selector));
    const shown = (selector) =>
      [...document.querySelectorAll(selector)].filter((element) => element.getClientRects().length);
    const root = document.documentElement;
    return {
      viewportWidth: root.clientWidth,
      scrollWidth: Math.max(root.scrollWidth, document.body.scrollWidth),
      tabs: one("nav.tabs"),
      tabLinks: shown("nav.tabs a").map(box),
      bar: one("#presence .diffy-bar"),
      status: one("#presence .diffy-status"),
      count: one("#presence .diffy-count"),
      users: one("#presence .diffy-users"),
      more: one("#presence .diffy-user--more"),
      notices: shown("#presence .diffy-notice").map((notice) => {
        const rest = notice.querySelector(".diffy-notice__rest");
        return { text: notice.textContent, box: box(notice), rest: rest && box(rest) };
      }),
      typing: one("#chat .diffy-typing"),
      // Every changed line's code cell: one line tall unless the code wrapped.
      codeLineHeights: [...document.querySelectorAll(".diff__table tr:not(.hunk) td:nth-child(3)")].map(
        (cell) => cell.getBoundingClientRect().height,
      ),
    };
  });
}

describe("presence widget layout on the demo page", () => {
  let browser;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  for (const [width, shot] of [[320, "11-crowded-room-at-320px"], [420, "12-crowded-room-at-420px"]]) {
    // Proves that at phone width the join notice, the avatar list and the count cover neither
    // the page's tab bar nor each other, and that nothing is wider than the viewport.
    test(`at ${width} px the notice, list and count stay clear of the tabs, each other and the edges`, async () => {
      const server = await startServer();
      try {
        const { alice, others } = await crowdedRoom(browser, server, width);
        const layout = await layoutOf(alice.page);
        await screenshot(alice.page, shot);

        assert.equal(layout.viewportWidth, width);
        assert.ok(
          layout.scrollWidth <= layout.viewportWidth,
          `the page scrolls sideways: ${layout.scrollWidth} px wide in a ${width} px viewport`,
        );
        const parts = {
          "tab bar": layout.tabs,
          bar: layout.bar,
          status: layout.status,
          count: layout.count,
          "user list": layout.users,
          "typing line": layout.typing,
          ...Object.fromEntries(layout.tabLinks.map((tab, index) => [`tab ${index + 1}`, tab])),
          ...Object.fromEntries(layout.notices.map((notice) => [`notice "${notice.text}"`, notice.box])),
        };
        for (const [name, box] of Object.entries(parts)) {
          assert.ok(
            box.left >= -SLACK && box.right <= layout.viewportWidth + SLACK,
            `the ${name} ${show(box)} runs past the ${width} px viewport`,
          );
        }

        const newest = layout.notices.find((notice) => notice.text === `${LONG_NAME} has joined the chat`);
        assert.ok(newest, `the long name's join notice is not shown: ${JSON.stringify(layout.notices)}`);
        for (const notice of layout.notices) {
          for (const [name, box] of [
            ["tab bar", layout.tabs],
            ["user list", layout.users],
            ["count", layout.count],
            ["status", layout.status],
          ]) {
            assert.ok(
              !overlap(notice.box, box),
              `the notice "${notice.text}" ${show(notice.box)} covers the ${name} ${show(box)}`,
            );
          }
          // A long name is shortened, never "has joined" or "left".
          assert.ok(
            notice.rest && within(notice.rest, notice.box),
            `the notice "${notice.text}" does not show whether they came or went`,
          );
        }
        for (const [a, b] of [
          ["status", "count"],
          ["status", "users"],
          ["count", "users"],
        ]) {
          assert.ok(!overlap(layout[a], layout[b]), `the ${a} ${show(layout[a])} and ${b} ${show(layout[b])} overlap`);
        }
        assert.ok(!overlap(layout.bar, layout.tabs), `the bar ${show(layout.bar)} covers the tab bar ${show(layout.tabs)}`);
        assert.ok(layout.more, "twelve people show a +N avatar");
        assert.ok(
          within(layout.more, layout.users),
          `the +N avatar ${show(layout.more)} is cut off by the user list ${show(layout.users)}`,
        );

        // Code keeps its lines (and so its indentation and +/- markers); the diff scrolls
        // within its card instead of wrapping.
        assert.ok(layout.codeLineHeights.length > 0, "the demo diff has code lines");
        const wrapped = layout.codeLineHeights.filter((height) => height > 21);
        assert.deepEqual(wrapped, [], `${wrapped.length} diff lines wrap at ${width} px`);

        assert.deepEqual(alice.errors, []);
        for (const person of [alice, ...others]) await person.context.close();
      } finally {
        await server.stop();
      }
    });
  }

  // Proves that a widget that cannot connect because of its settings says why in full at
  // desktop width, in the reviewer's words, instead of cutting the reason off.
  test("at 1280 px an unusable pull request id or name is explained in full", async () => {
    const server = await startServer();
    try {
      const cases = [
        { pr: "abc", user: "alice", reason: /“abc” is not a pull request number \(a whole number from 1 to 9007199254740991; data-pull-request-id\)\.$/ },
        { pr: String(freshPr()), user: "x".repeat(65), reason: /^Cannot use this name: .*64.*\.$/ },
      ];
      for (const { pr, user, reason } of cases) {
        const viewer = await openAs(browser, server, { pr, user });
        const problem = viewer.page.locator("#presence .diffy-bar__problem");
        await problem.waitFor({ timeout: WAIT_MS });
        const look = await problem.evaluate((node) => ({
          text: node.textContent,
          clipped: node.scrollWidth > node.clientWidth + 0.5 || node.scrollHeight > node.clientHeight + 0.5,
          box: node.getBoundingClientRect().toJSON(),
          bar: node.closest(".diffy-bar").getBoundingClientRect().toJSON(),
        }));
        assert.match(look.text, reason);
        assert.equal(look.clipped, false, `the reason is cut off: ${look.text}`);
        assert.ok(
          within(look.box, look.bar) && look.box.bottom <= look.bar.bottom + SLACK,
          `the reason ${show(look.box)} runs out of the bar ${show(look.bar)}`,
        );
        await viewer.context.close();
      }
    } finally {
      await server.stop();
    }
  });

  // Proves that the narrow layout stays out of desktop widths: the bar is one 40 px line with
  // names beside the avatars, and notices float beneath it.
  test("at 1280 px the bar keeps one line with names and floating notices", async () => {
    const server = await startServer();
    const pr = freshPr();
    try {
      const alice = await openAs(browser, server, { pr, user: "alice" });
      await waitForState(alice.page, "live");
      const bob = await openAs(browser, server, { pr, user: "bob" });
      await waitForPresence(alice.page, 2, ["alice", "bob"]);
      const notice = alice.page.locator("#presence .diffy-notice", { hasText: "bob has joined the chat" });
      await notice.waitFor({ timeout: WAIT_MS });

      const look = await alice.page.evaluate(() => {
        const bar = document.querySelector("#presence .diffy-bar");
        const name = bar.querySelector('.diffy-user[data-username="bob"] .diffy-user__name');
        return {
          barHeight: bar.getBoundingClientRect().height,
          nameWidth: name.getBoundingClientRect().width,
          feedPosition: getComputedStyle(bar.querySelector(".diffy-feed")).position,
        };
      });
      assert.equal(look.barHeight, 40);
      assert.ok(look.nameWidth > 20, `bob's name is hidden (${look.nameWidth} px wide)`);
      assert.equal(look.feedPosition, "absolute");

      await alice.context.close();
      await bob.context.close();
    } finally {
      await server.stop();
    }
  });
});
