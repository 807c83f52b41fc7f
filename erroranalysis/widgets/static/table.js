// A table. A click on a header reaches Python as the custom message {type: "click", sort},
// a click on a row as {type: "click", row, sample_id}.
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
        td.textContent = v;
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
