// A table. A click on a header reaches Python as the custom message {type: "click", sort},
// a click on a row as {type: "click", row, sample_id}. A cell is a string, or an object
// {text, title, cls, bar, sub} (a bar with an interval: the slice table's accuracy; a
// second, smaller line: why the slice ranks there).
function render({ model, el }) {
  el.classList.add("ea-root", "ea-table");
  function draw() {
    const cols = model.get("columns"), rows = model.get("rows"), ids = model.get("row_ids");
    const sortBy = model.get("sort_by"), desc = model.get("sort_desc"), focused = model.get("focused");
    el.innerHTML = "";
    if (!rows.length) {
      const p = document.createElement("div");
      p.className = "ea-muted ea-table-empty";
      p.textContent = model.get("empty_text");
      el.appendChild(p);
      return;
    }
    const t = document.createElement("table");
    const head = t.insertRow();
    cols.forEach((c) => {
      const th = document.createElement("th");
      th.dataset.column = c;
      th.textContent = c + (c === sortBy ? (desc ? " ▼" : " ▲") : "");
      head.appendChild(th);
    });
    rows.forEach((r, i) => {
      const tr = t.insertRow();
      tr.dataset.row = i;
      tr.dataset.sampleId = ids[i] || "";
      tr.className = "ea-table-row" + (ids[i] && ids[i] === focused ? " ea-row-focused" : "");
      r.forEach((v) => {
        const td = tr.insertCell();
        if (v === null || typeof v !== "object") {
          td.textContent = v;
          return;
        }
        // {text, title, cls, sub, bar: {v, lo, hi, ref}} (0..1 along the bar): a value bar with its
        // interval and a reference tick; the numbers reach the stylesheet as custom properties
        if (v.cls) td.className = v.cls;
        if (v.title) td.title = v.title;
        if (v.bar) {
          const b = v.bar;
          const track = document.createElement("span");
          track.className = "ea-bar";
          const fill = document.createElement("span");
          fill.className = "ea-bar-fill";
          fill.style.setProperty("--ea-v", String(b.v || 0));
          track.appendChild(fill);
          if (b.lo !== undefined && b.hi !== undefined) {
            const ci = document.createElement("span");
            ci.className = "ea-bar-ci";
            ci.style.setProperty("--ea-lo", String(b.lo));
            ci.style.setProperty("--ea-hi", String(b.hi));
            track.appendChild(ci);
          }
          if (b.ref !== undefined) {
            const ref = document.createElement("span");
            ref.className = "ea-bar-ref";
            ref.style.setProperty("--ea-ref", String(b.ref));
            track.appendChild(ref);
          }
          td.appendChild(track);
        }
        const text = document.createElement("span");
        text.className = "ea-cell-text";
        text.textContent = v.text === undefined ? "" : v.text;
        td.appendChild(text);
        if (v.sub) {
          const sub = document.createElement("div");
          sub.className = "ea-cell-sub ea-muted";
          sub.textContent = v.sub;
          td.appendChild(sub);
        }
      });
    });
    el.appendChild(t);
  }
  const onClick = (e) => {
    const th = e.target.closest("th");
    if (th && el.contains(th)) {
      model.send({ type: "click", sort: th.dataset.column });
      return;
    }
    const tr = e.target.closest("tr.ea-table-row");
    if (!tr || !el.contains(tr)) return;
    model.send({ type: "click", row: Number(tr.dataset.row), sample_id: tr.dataset.sampleId });
  };
  el.addEventListener("click", onClick);
  const keys = ["columns", "rows", "row_ids", "sort_by", "sort_desc", "focused", "empty_text"];
  keys.forEach((k) => model.on("change:" + k, draw));
  draw();
  return () => {
    keys.forEach((k) => model.off("change:" + k, draw));
    el.removeEventListener("click", onClick);
  };
}
export default { render };
