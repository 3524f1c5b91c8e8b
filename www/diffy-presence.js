// The one script a host page includes to get Diffy presence widgets:
//   <script type="module" src="https://diffy.example/diffy-presence.js"></script>
// It loads the widget's wasm from beside itself; on load every [data-diffy-presence] element
// gets a widget. For widgets made later, use the API on window.DiffyPresence:
//   const { mount } = await DiffyPresence.ready;
//   const handle = mount(element, { pullRequestId: 123, username: "alice" });
//   handle.destroy();
import init, { mount } from "./diffy-widget.js";

const ready = init({ module_or_path: new URL("./diffy-widget_bg.wasm", import.meta.url) }).then(
  () => {
    window.DiffyPresence.mount = mount;
    document.dispatchEvent(new CustomEvent("diffy-presence-ready"));
    return { mount };
  },
);

window.DiffyPresence = {
  ready,
  mount() {
    throw new Error("the Diffy widget is still loading; await DiffyPresence.ready first");
  },
};
