// Helpers for the browser tests: start and stop the real diffy-server binary on a loopback
// port, put a loopback TCP proxy that can cut connections in front of it, launch Debian's
// Chromium headless through playwright-core, open the demo page as a given user, measure the
// page's memory and sockets through the DevTools protocol, and save screenshots under
// artifacts/.
import { spawn } from "node:child_process";
import { EventEmitter, once } from "node:events";
import { mkdirSync } from "node:fs";
import net from "node:net";
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
 * Starts the server with the built page; `port` 0 picks a free one, and `args` are added to
 * its command line. Resolves once the server logs its address, and fails if it exits or
 * stays silent first.
 */
export async function startServer({ port = 0, args = [] } = {}) {
  const child = spawn(
    SERVER_BIN,
    ["--listen", `127.0.0.1:${port}`, "--static-dir", DIST, "--grace-period", "0s", ...args],
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
 * `width` is the viewport's width in CSS pixels.
 */
export async function openAs(browser, server, { pr, user, colorScheme = "light", width = 1280 }) {
  const context = await browser.newContext({ viewport: { width, height: 800 }, colorScheme });
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

/**
 * A TCP proxy on 127.0.0.1 in front of `upstreamPort`, so a test can drop a widget's
 * connections the way a network does, with the real server behind it. It counts every
 * connection it accepted, how many are open now, and the most that were ever open at once.
 *
 * `cutAll()` ends every open connection, alternating a clean close (FIN) and a reset (RST)
 * between calls; `cutAll(frames)` instead stops forwarding the server, writes the given
 * WebSocket frames (see `wsTextFrame`) to the browser, then closes. While `hold` is true, new
 * connections are accepted but not forwarded, so the browser's WebSocket stays in its
 * opening handshake, until `release()` forwards them, with what the browser sent meanwhile.
 */
export async function startProxy(upstreamPort) {
  const pairs = new Set();
  // Every accepted socket until it closes, pairs or not: cutAll(frames) lets go of a pair
  // whose client side is still closing, and stop() must not wait for the browser to end it.
  const sockets = new Set();
  const changes = new EventEmitter();
  let accepted = 0;
  let maxOpen = 0;
  let cuts = 0;

  const end = (pair, how) => {
    if (!pairs.delete(pair)) return;
    for (const socket of [pair.client, pair.upstream]) {
      if (!socket) continue;
      if (how === "reset" && !socket.destroyed) socket.resetAndDestroy();
      else socket.destroy();
    }
    changes.emit("change");
  };

  const server = net.createServer((client) => {
    const pair = { client, upstream: null };
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    pairs.add(pair);
    accepted += 1;
    maxOpen = Math.max(maxOpen, pairs.size);
    client.on("error", () => {});
    client.on("close", () => end(pair));
    if (!proxy.hold) forward(pair);
    changes.emit("change");
  });
  const forward = (pair) => {
    pair.upstream = net.connect({ host: "127.0.0.1", port: upstreamPort });
    pair.upstream.on("error", () => {});
    pair.upstream.on("close", () => end(pair));
    pair.client.pipe(pair.upstream);
    pair.upstream.pipe(pair.client);
  };
  server.listen(0, "127.0.0.1");
  await once(server, "listening");

  const proxy = {
    url: `http://127.0.0.1:${server.address().port}`,
    hold: false,
    /** Connections accepted since the start. */
    get accepted() {
      return accepted;
    },
    /** Connections open now. */
    get open() {
      return pairs.size;
    },
    /** The most connections that were open at the same moment. */
    get maxOpen() {
      return maxOpen;
    },
    /** Stops holding: forwards the held connections and every later one. */
    release() {
      proxy.hold = false;
      for (const pair of pairs) if (!pair.upstream) forward(pair);
    },
    /** Ends every open connection; returns how many there were. */
    cutAll(frames = null) {
      const how = cuts % 2 === 0 ? "close" : "reset";
      cuts += 1;
      const count = pairs.size;
      for (const pair of [...pairs]) {
        if (!frames) {
          end(pair, how);
          continue;
        }
        // The browser gets the frames, then a FIN; the server is cut off first, so that no
        // frame of its own can interleave.
        pairs.delete(pair);
        pair.upstream?.unpipe(pair.client);
        pair.upstream?.destroy();
        pair.client.end(Buffer.concat(frames));
        changes.emit("change");
      }
      return count;
    },
    /** Resolves once `predicate(proxy)` holds; fails after `timeout` ms saying `what`. */
    waitFor(predicate, what, timeout = WAIT_MS) {
      if (predicate(proxy)) return Promise.resolve();
      return new Promise((resolvePromise, reject) => {
        const check = () => {
          if (!predicate(proxy)) return;
          clearTimeout(timer);
          changes.off("change", check);
          resolvePromise();
        };
        const timer = setTimeout(() => {
          changes.off("change", check);
          reject(new Error(`proxy: timed out waiting for ${what} ` +
            `(accepted ${accepted}, open ${pairs.size})`));
        }, timeout);
        changes.on("change", check);
      });
    },
    async stop() {
      for (const pair of [...pairs]) end(pair);
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
  return proxy;
}

/** One unmasked, unfragmented WebSocket text frame, as a server sends it. */
export function wsTextFrame(text) {
  const payload = Buffer.from(text, "utf8");
  if (payload.length > 125) throw new Error("wsTextFrame: only short frames");
  return Buffer.concat([Buffer.from([0x81, payload.length]), payload]);
}

/** The types of the event listeners on the node `expression` evaluates to and its subtree. */
export async function listenersOn(cdp, expression) {
  const { result } = await cdp.send("Runtime.evaluate", { expression, objectGroup: "diffy-listeners" });
  const { listeners } = await cdp.send("DOMDebugger.getEventListeners", {
    objectId: result.objectId,
    depth: -1,
  });
  await cdp.send("Runtime.releaseObjectGroup", { objectGroup: "diffy-listeners" });
  return listeners.map((listener) => listener.type);
}

/**
 * Counts the live objects whose prototype is `prototype` (a page expression such as
 * "WebSocket.prototype") after a garbage collection, and calls `inspect` (a function source
 * run with `this` set to the array of them) to learn more about them.
 */
async function queryObjects(cdp, prototype, inspect = "function () { return this.length; }") {
  const group = "diffy-measure";
  const { result: proto } = await cdp.send("Runtime.evaluate", { expression: prototype, objectGroup: group });
  const { objects } = await cdp.send("Runtime.queryObjects", { prototypeObjectId: proto.objectId, objectGroup: group });
  const { result } = await cdp.send("Runtime.callFunctionOn", {
    objectId: objects.objectId,
    functionDeclaration: inspect,
    returnByValue: true,
  });
  const value = result.value;
  await cdp.send("Runtime.releaseObjectGroup", { objectGroup: group });
  return value;
}

/**
 * The figures that show whether a page leaks, taken after a full garbage collection: the JS
 * heap in use, the renderer's live DOM nodes and JS event listeners, the live WebSocket
 * objects (how many are still connecting or open, and the listeners on those), the live JS
 * functions, and the widget's wasm linear memory and the number of JS values wasm holds.
 */
export async function measurePage(page, cdp) {
  // Read the wasm figures first: the evaluation makes garbage of its own.
  const wasm = await page.evaluate(async () => {
    // The page's module instance: importing the same URL again returns it, and its init
    // returns the wasm exports it already has.
    const glue = await import(new URL("diffy-widget.js", document.baseURI).href);
    const exports = await glue.default();
    // The table where wasm keeps the JS values it holds; a freed slot is set to null.
    const table = exports.__wbindgen_externrefs;
    let held = 0;
    for (let index = 0; index < table.length; index += 1) {
      const value = table.get(index);
      if (value !== null && value !== undefined) held += 1;
    }
    return { memoryBytes: exports.memory.buffer.byteLength, externrefsHeld: held };
  });
  // Collect, let the finalizers that queued run (wasm-bindgen frees closures and handles
  // from a FinalizationRegistry, which frees JS values in turn), and collect again.
  await cdp.send("HeapProfiler.collectGarbage");
  await page.evaluate(() => new Promise((resolvePromise) => setTimeout(resolvePromise, 50)));
  await cdp.send("HeapProfiler.collectGarbage");
  const heap = await cdp.send("Runtime.getHeapUsage");
  const dom = await cdp.send("Memory.getDOMCounters");
  const sockets = await queryObjects(cdp, "WebSocket.prototype", `function () {
    const live = this.filter((ws) => ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN);
    return {
      total: this.length,
      live: live.length,
      handlers: live.map((ws) => [ws.onopen, ws.onmessage, ws.onclose, ws.onerror].filter(Boolean).length),
    };
  }`);
  const functions = await queryObjects(cdp, "Function.prototype");
  return {
    heapUsedBytes: heap.usedSize,
    domNodes: dom.nodes,
    jsEventListeners: dom.jsEventListeners,
    webSockets: sockets.total,
    liveWebSockets: sockets.live,
    liveSocketHandlers: sockets.handlers,
    functions,
    wasmMemoryBytes: wasm.memoryBytes,
    wasmHeldJsValues: wasm.externrefsHeld,
  };
}
