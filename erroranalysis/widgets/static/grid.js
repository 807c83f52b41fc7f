// A grid of thumbnails (`thumbs`: data URLs) with captions and badges (`items`).
// A click on a thumbnail reaches Python as the custom message {type: "click", sample_id}.
function render({ model, el }) {
  el.classList.add("ea-root", "ea-grid");
  function draw() {
    const thumbs = model.get("thumbs"), items = model.get("items");
    const focused = model.get("focused");
    el.style.setProperty("--ea-thumb-size", model.get("thumb_size") + "px");
    el.innerHTML = "";
    if (!items.length) {
      const p = document.createElement("div");
      p.className = "ea-muted ea-grid-empty";
      p.textContent = model.get("empty_text");
      el.appendChild(p);
      return;
    }
    items.forEach((it, i) => {
      const d = document.createElement("div");
      d.className =
        "ea-thumb" + (it.sample_id === focused ? " ea-thumb-focused" : "") +
        (it.wrong ? " ea-thumb-wrong" : "") + (it.relabeled ? " ea-thumb-relabeled" : "");
      d.dataset.sampleId = it.sample_id;
      d.title = it.tooltip || it.sample_id;
      const src = thumbs[i];
      if (src) {
        const img = document.createElement("img");
        img.src = src;
        img.draggable = false;
        d.appendChild(img);
      } else {
        const ph = document.createElement("div");
        ph.className = "ea-thumb-placeholder";
        ph.textContent = "no image";
        d.appendChild(ph);
      }
      const cap = document.createElement("div");
      cap.className = "ea-thumb-caption";
      cap.textContent = it.caption;
      d.appendChild(cap);
      const b = document.createElement("div");
      b.className = "ea-thumb-badges";
      (it.badges || []).forEach((t) => {
        const s = document.createElement("span");
        s.className = "ea-badge ea-badge-" + t.replace(/[^a-z_]/gi, "");
        s.textContent = t;
        b.appendChild(s);
      });
      d.appendChild(b);
      el.appendChild(d);
    });
  }
  const onClick = (e) => {
    const d = e.target.closest(".ea-thumb");
    if (!d || !el.contains(d)) return;
    model.send({ type: "click", sample_id: d.dataset.sampleId });
  };
  el.addEventListener("click", onClick);
  const keys = ["thumbs", "items", "focused", "empty_text", "thumb_size"];
  keys.forEach((k) => model.on("change:" + k, draw));
  draw();
  return () => {
    keys.forEach((k) => model.off("change:" + k, draw));
    el.removeEventListener("click", onClick);
  };
}
export default { render };
