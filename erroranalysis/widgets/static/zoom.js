// An image at its native resolution in a fixed viewport, with pan and zoom. Wheel zooms about
// the pointer, drag pans, double-click (or `fit`) fits the image, `1:1` shows one image pixel per
// screen pixel. Pan and zoom are CSS transforms here; Python sends the image once (`src`).
function render({ model, el }) {
  el.classList.add("ea-zoom");
  const bar = document.createElement("div");
  bar.className = "ea-zoom-bar";
  const view = document.createElement("div");
  view.className = "ea-zoom-view";
  const img = document.createElement("img");
  img.className = "ea-zoom-image";
  img.draggable = false;
  view.appendChild(img);
  const info = document.createElement("span");
  info.className = "ea-zoom-info";
  let s = 1, x = 0, y = 0;
  const apply = () => {
    img.style.transform = `translate(${x}px, ${y}px) scale(${s})`;
    info.textContent = `${model.get("natural_width")}×${model.get("natural_height")} px · ${Math.round(s * 100)}%`;
  };
  const fit = () => {
    const w = img.naturalWidth || 1, h = img.naturalHeight || 1;
    const vw = view.clientWidth || model.get("view_width"), vh = view.clientHeight || model.get("view_height");
    s = Math.min(vw / w, vh / h);
    x = (vw - w * s) / 2;
    y = (vh - h * s) / 2;
    apply();
  };
  const zoomAt = (factor, px, py) => {
    const next = Math.min(64, Math.max(0.01, s * factor));
    x = px - (px - x) * (next / s);
    y = py - (py - y) * (next / s);
    s = next;
    apply();
  };
  const button = (text, cls, action) => {
    const b = document.createElement("button");
    b.textContent = text;
    b.className = "ea-zoom-" + cls;
    b.onclick = action;
    bar.appendChild(b);
  };
  button("fit", "fit", fit);
  button("1:1", "native", () => zoomAt(1 / s, view.clientWidth / 2, view.clientHeight / 2));
  button("+", "in", () => zoomAt(1.5, view.clientWidth / 2, view.clientHeight / 2));
  button("−", "out", () => zoomAt(1 / 1.5, view.clientWidth / 2, view.clientHeight / 2));
  bar.appendChild(info);
  view.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = view.getBoundingClientRect();
    zoomAt(Math.exp(-e.deltaY * 0.002), e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  let drag = null;
  view.addEventListener("pointerdown", (e) => { drag = [e.clientX - x, e.clientY - y]; view.setPointerCapture(e.pointerId); });
  view.addEventListener("pointermove", (e) => { if (drag) { x = e.clientX - drag[0]; y = e.clientY - drag[1]; apply(); } });
  view.addEventListener("pointerup", () => { drag = null; });
  view.addEventListener("dblclick", fit);
  // the viewport's size is data (a trait), not styling: set it as custom properties
  const size = () => {
    view.style.setProperty("--ea-zoom-width", model.get("view_width") + "px");
    view.style.setProperty("--ea-zoom-height", model.get("view_height") + "px");
  };
  img.onload = fit;
  const load = () => { size(); img.src = model.get("src"); };
  model.on("change:src", load);
  model.on("change:view_width", size);
  model.on("change:view_height", size);
  el.appendChild(bar);
  el.appendChild(view);
  load();
  return () => {
    model.off("change:src", load);
    model.off("change:view_width", size);
    model.off("change:view_height", size);
  };
}
export default { render };
