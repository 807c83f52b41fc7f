// Keyboard shortcuts for the review loop, active while the pointer is over the dashboard (the
// nearest .ea-dashboard, else .ea-inspector, ancestor) and no text field has the focus.
// Each press of one of `shortcut_keys` reaches Python as the custom message {type: "key", key}.
function render({ model, el }) {
  el.classList.add("ea-keys");
  // Looked up at key time: when render runs, el may not be attached to the page yet.
  const root = () => el.closest(".ea-dashboard") || el.closest(".ea-inspector") || el;
  const onKey = (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || !el.isConnected) return;
    if (!root().matches(":hover")) return;
    const t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable)) return;
    if (!new Set(model.get("shortcut_keys")).has(e.key)) return;
    // window capture runs before JupyterLab's document listener: the notebook never sees it
    e.preventDefault();
    e.stopPropagation();
    e.stopImmediatePropagation();
    model.send({ type: "key", key: e.key });
  };
  window.addEventListener("keydown", onKey, true);
  const hint = () => { el.textContent = model.get("hint"); };
  model.on("change:hint", hint);
  hint();
  return () => {
    window.removeEventListener("keydown", onKey, true);
    model.off("change:hint", hint);
  };
}
export default { render };
