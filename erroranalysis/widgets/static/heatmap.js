// A K×K table of cells (the confusion matrix): each cell shows `texts[i][j]`, shaded by
// `shades[i][j]` (0..1). A click on a cell reaches Python as the custom message
// {type: "click", row, col} (never a trait: the widget manager may merge trait updates).
function render({ model, el }) {
  el.classList.add("ea-root", "ea-heatmap");
  function draw() {
    const rows = model.get("row_labels"), cols = model.get("col_labels");
    const texts = model.get("texts"), shades = model.get("shades");
    const sel = model.get("selected_cell") || [];
    const worst = model.get("worst_cell") || [];
    const rowMargin = model.get("row_margin") || [], colMargin = model.get("col_margin") || [];
    el.innerHTML = "";
    const summary = document.createElement("div");
    summary.className = "ea-heatmap-summary";
    summary.textContent = model.get("summary");
    el.appendChild(summary);
    const cap = document.createElement("div");
    cap.className = "ea-heatmap-caption ea-muted";
    cap.textContent = model.get("caption");
    el.appendChild(cap);
    const t = document.createElement("table");
    t.className = "ea-heatmap-table";
    const head = t.insertRow();
    const corner = document.createElement("th");
    corner.className = "ea-heatmap-corner";
    corner.textContent = model.get("row_title") + " \\ " + model.get("col_title");
    head.appendChild(corner);
    cols.forEach((c) => {
      const th = document.createElement("th");
      th.className = "ea-heatmap-col";
      th.title = c;
      const s = document.createElement("span");
      s.textContent = c;
      th.appendChild(s);
      head.appendChild(th);
    });
    if (rowMargin.length) {
      const th = document.createElement("th");
      th.className = "ea-heatmap-margin-title ea-heatmap-margin-col";
      const s = document.createElement("span");
      s.textContent = model.get("row_margin_title");
      th.appendChild(s);
      head.appendChild(th);
    }
    rows.forEach((r, i) => {
      const tr = t.insertRow();
      const th = document.createElement("th");
      th.className = "ea-heatmap-row";
      th.textContent = r;
      th.title = r;
      tr.appendChild(th);
      cols.forEach((c, j) => {
        const td = tr.insertCell();
        const v = (shades[i] || [])[j] || 0;
        const diag = i === j && model.get("diagonal");
        td.className =
          "ea-cell" + (diag ? " ea-cell-diag" : " ea-cell-off") +
          (sel[0] === i && sel[1] === j ? " ea-cell-selected" : "") +
          (worst[0] === i && worst[1] === j ? " ea-cell-worst" : "") +
          (v > 0.55 ? " ea-cell-dark" : "");
        td.dataset.row = i;
        td.dataset.col = j;
        td.textContent = (texts[i] || [])[j];
        td.title = r + " → " + c + ": " + td.textContent;
        // the value is data: the stylesheet turns it into the cell's opacity
        td.style.setProperty("--ea-shade", (0.04 + 0.91 * v).toFixed(3));
      });
      if (rowMargin.length) {
        const td = tr.insertCell();
        td.className = "ea-margin ea-margin-row";
        td.textContent = rowMargin[i] || "";
        td.title = model.get("row_margin_title") + " of " + r + ": " + td.textContent;
      }
    });
    if (colMargin.length) {
      const tr = t.insertRow();
      tr.className = "ea-margin-row-line";
      const th = document.createElement("th");
      th.className = "ea-heatmap-margin-title ea-heatmap-margin-row";
      th.textContent = model.get("col_margin_title");
      tr.appendChild(th);
      cols.forEach((c, j) => {
        const td = tr.insertCell();
        td.className = "ea-margin ea-margin-col";
        td.textContent = colMargin[j] || "";
        td.title = model.get("col_margin_title") + " of " + c + ": " + td.textContent;
      });
    }
    el.appendChild(t);
  }
  const onClick = (e) => {
    const td = e.target.closest("td.ea-cell");
    if (!td || !el.contains(td)) return;
    model.send({ type: "click", row: Number(td.dataset.row), col: Number(td.dataset.col) });
  };
  el.addEventListener("click", onClick);
  const keys = ["row_labels", "col_labels", "texts", "shades", "selected_cell", "caption",
    "summary", "worst_cell", "row_margin", "col_margin"];
  keys.forEach((k) => model.on("change:" + k, draw));
  draw();
  return () => {
    keys.forEach((k) => model.off("change:" + k, draw));
    el.removeEventListener("click", onClick);
  };
}
export default { render };
