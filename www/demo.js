// The demo PR page's own behaviour: reads ?pr=123&user=alice, asks for a name when none is
// given, fills in the page for that pull request, and switches between light and dark.
// The widget itself is loaded by diffy-presence.js and mounts on [data-diffy-presence].
(function () {
  "use strict";

  const params = new URLSearchParams(window.location.search);
  // Without ?pr= the demo shows #123; a given id goes to the widget as it is, so that one it
  // cannot use is explained there rather than swapped silently for another room.
  const pr = (params.get("pr") || "").trim() || "123";
  const user = (params.get("user") || "").trim();

  for (const node of document.querySelectorAll("[data-pr-number]")) {
    node.textContent = "#" + pr;
  }
  document.title = document.title.replace("#123", "#" + pr);

  const slot = document.getElementById("presence");
  if (user) {
    slot.setAttribute("data-diffy-presence", "");
    slot.setAttribute("data-pull-request-id", pr);
    slot.setAttribute("data-username", user);
    slot.setAttribute("data-chat-target", "#chat");
  } else {
    document.getElementById("name-dialog").hidden = false;
    document.getElementById("chat").classList.add("is-empty");
    const form = document.getElementById("name-form");
    const input = document.getElementById("name-input");
    input.focus();
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const name = input.value.trim();
      if (!name) {
        input.setAttribute("aria-invalid", "true");
        return;
      }
      params.set("pr", pr);
      params.set("user", name);
      window.location.search = params.toString();
    });
  }

  const root = document.documentElement;
  const toggle = document.getElementById("theme-toggle");
  const stored = window.localStorage.getItem("diffy-demo-theme");
  if (stored === "dark" || stored === "light") {
    root.setAttribute("data-theme", stored);
  }
  toggle.addEventListener("click", function () {
    const dark =
      root.getAttribute("data-theme") === "dark" ||
      (!root.hasAttribute("data-theme") && window.matchMedia("(prefers-color-scheme: dark)").matches);
    const next = dark ? "light" : "dark";
    root.setAttribute("data-theme", next);
    window.localStorage.setItem("diffy-demo-theme", next);
  });
})();
