// Renders nothing: it exists so that erroranalysis.css reaches the page (as its `_css`) where
// a panel has no other anywidget (the export and pseudo-label panels, the dashboard itself).
function render({ el }) {
  el.classList.add("ea-stylesheet");
}
export default { render };
