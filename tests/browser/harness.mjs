// Helpers for the browser tests: start and stop the real diffy-server binary on a loopback
// port, launch Debian's Chromium headless through playwright-core, open the demo page as a
// given user, and save screenshots under artifacts/.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..", "..");

export const SERVER_BIN = process.env.DIFFY_SERVER_BIN || join(root, "target", "debug", "diffy-server");
export const DIST = process.env.DIFFY_DIST || join(root, "dist");
export const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
export const ARTIFACTS = join(here, "artifacts");

/** How long any single wait may take before a test fails. */
export const WAIT_MS = 20_000;

/**
 * Starts the server with the built page; `port` 0 picks a free one. Resolves once the server
 * logs its address, and fails if it exits or stays silent first.
 */
export async function startServer({ port = 0 } = {}) {
  const child = spawn(
    SERVER_BIN,
    ["--listen", `127.0.0.1:${port}`, "--static-dir", DIST, "--grace-period", "0s"],
    { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, RUST_LOG: process.env.RUST_LOG || "info" } },
  );
  let log = "";
  const addr = await new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), WAIT_MS);
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => {
      log += chunk;
      const match = /listening addr=(\S+)/.exec(log);
      if (match) {
        clearTimeout(timer);
        resolvePromise(match[1]);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${log}`));
    });
  });
  const url = `http://${addr}`;
  return {
    url,
    port: Number(new URL(url).port),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Launches headless Chromium; playwright gives each launch a fresh temporary profile. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
}

/**
 * Opens the demo page for `pr` as `user` in its own browser context (its own cookies and
 * storage, like a second person), and records every JavaScript dialog and page error.
 */
export async function openAs(browser, server, { pr, user, colorScheme = "light" }) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme });
  const page = await context.newPage();
  const dialogs = [];
  const errors = [];
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    dialog.dismiss().catch(() => {});
  });
  page.on("pageerror", (error) => errors.push(String(error)));
  const query = new URLSearchParams({ pr: String(pr), ...(user === undefined ? {} : { user }) });
  await page.goto(`${server.url}/?${query}`);
  return { context, page, dialogs, errors };
}

/** Waits until the widget on `page` shows the given connection state. */
export async function waitForState(page, state, root = "#presence") {
  await page.locator(`${root} .diffy-status[data-state="${state}"]`).waitFor({ timeout: WAIT_MS });
}

/** Waits until the count badge reads `count` and every name in `users` has an avatar. */
export async function waitForPresence(page, count, users, root = "#presence") {
  await page.waitForFunction(
    ({ root, count, users }) => {
      const widget = document.querySelector(root);
      const badge = widget?.querySelector(".diffy-count__value");
      const shown = [...(widget?.querySelectorAll(".diffy-user[data-username]") ?? [])].map(
        (node) => node.getAttribute("data-username"),
      );
      return badge?.textContent === String(count) &&
        shown.length === users.length &&
        users.every((user) => shown.includes(user));
    },
    { root, count, users },
    { timeout: WAIT_MS },
  );
}

/** Saves a full-page screenshot as artifacts/<name>.png. */
export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** A pull request number no other test uses, so rooms never overlap. */
let nextPr = 4_000 + Math.floor(Math.random() * 1_000) * 10;
export function freshPr() {
  nextPr += 1;
  return nextPr;
}
