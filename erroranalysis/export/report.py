"""A self-contained static HTML report of a scanned run.

One file, no network: plotly.js is embedded once, thumbnails are base64 data URIs. It reads the
scan's cached results and artifacts; it computes nothing heavy (only counts and accuracies from
cached columns) and says "run scan first" where a part is missing.

>>> import erroranalysis as ea
>>> ea.report(ea.Store.open("demo-store"), "report.html")   # doctest: +SKIP
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from erroranalysis.errors import ErrorAnalysisError
from erroranalysis.export._common import write_text_atomic

__all__ = ["report"]

SLICE_ARTIFACTS = ("slices", "weak_slices", "slice_metrics")
EVALUATION_ARTIFACTS = ("evaluation", "clean_evaluation", "evaluation_without_issues")
SCAN_HINT = "run <code>erroranalysis scan STORE</code> (or <code>ea.scan(store)</code>) first"

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1f2328;max-width:1200px}
h1{font-size:1.6em;margin-bottom:4px}h2{border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:32px}
.meta{color:#57606a}.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{border:1px solid #d0d7de;border-radius:8px;padding:10px 16px;min-width:130px}
.card b{display:block;font-size:1.5em}.card span{color:#57606a;font-size:.85em}
table.ea{border-collapse:collapse;font-size:.85em;margin:8px 0}
table.ea th,table.ea td{border:1px solid #d0d7de;padding:3px 8px;text-align:right}
table.ea th{background:#f6f8fa}table.ea td:first-child,table.ea th:first-child{text-align:left}
.thumbs{display:flex;flex-wrap:wrap;gap:10px}
.thumb{width:132px;font-size:.75em;border:1px solid #d0d7de;border-radius:6px;padding:4px;word-break:break-all}
.thumb img{width:124px;height:124px;object-fit:contain;background:#f6f8fa;image-rendering:pixelated}
.thumb.wide{width:auto}
.thumb img.saliency{margin-left:4px}
.missing{color:#9a6700;background:#fff8c5;padding:6px 10px;border-radius:6px}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _table(frame: pd.DataFrame, limit: int = 30, float_format: str = "{:.3f}") -> str:
    frame = frame.head(limit)
    head = "".join(f"<th>{_esc(column)}</th>" for column in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for value in row:
            if isinstance(value, float | np.floating):
                text = "" if np.isnan(value) else float_format.format(float(value))
            else:
                text = _esc(value)
            cells.append(f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="ea"><tr>{head}</tr>{"".join(body)}</table>'


def _as_frame(artifact: Any) -> pd.DataFrame | None:
    if artifact is None:
        return None
    if isinstance(artifact, pd.DataFrame):
        return artifact
    if isinstance(artifact, list) and all(isinstance(item, dict) for item in artifact):
        return pd.DataFrame(artifact)
    if isinstance(artifact, dict):
        flat = {k: v for k, v in artifact.items() if not isinstance(v, dict | list)}
        nested = {k: v for k, v in artifact.items() if isinstance(v, dict)}
        if nested and all(isinstance(v, dict) for v in nested.values()) and not flat:
            return pd.DataFrame(nested).T.reset_index(names="")
        return pd.DataFrame({"": list(flat), "value": list(flat.values())})
    return None


def _load_first(run, names: tuple[str, ...]) -> Any:
    for name in names:
        artifact = run.load_artifact(name)
        if artifact is not None:
            return artifact
    return None


def _thumbnail(store, sample_id: str, size: int = 124) -> str | None:
    """A base64 PNG data URI of the sample's image, or None when it cannot be read."""
    try:
        location = store.image_path(sample_id)
    except (ErrorAnalysisError, KeyError, OSError):
        return None
    if isinstance(location, str) and "://" in location:
        return None
    try:
        from erroranalysis.ingest.images import load_image

        image = load_image(location)
    except (ImportError, ErrorAnalysisError, OSError):
        return None
    image.thumbnail((size, size))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _thumbs(store, frame: pd.DataFrame, caption, extra: dict[str, str] | None = None) -> str:
    if frame.empty:
        return "<p>None.</p>"
    cards = []
    for _, row in frame.iterrows():
        uri = _thumbnail(store, row["sample_id"])
        image = (
            f'<img src="{uri}" alt="{_esc(row["sample_id"])}">' if uri else "<div>(no image)</div>"
        )
        more = (extra or {}).get(row["sample_id"], "")
        wide = " wide" if more else ""
        cards.append(f'<div class="thumb{wide}">{image}{more}<div>{caption(row)}</div></div>')
    return f'<div class="thumbs">{"".join(cards)}</div>'


def _png_uri(pixels: np.ndarray) -> str:
    """A base64 PNG data URI of an (H, W, 3) uint8 array."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _saliency_uris(store, run, sample_ids: list[str], compute: int) -> dict[str, str]:
    """Grad-CAM overlays (predicted class, current label) of the samples whose maps exist.

    The maps the inspector computed are cached per run, so the report shows them without loading
    the model; ``compute`` more (the first ones) are computed now, loading the run's model
    (:func:`erroranalysis.explain`), and cached for the next report and the inspector.
    """
    from erroranalysis.analysis.saliency import explain

    if compute > 0 and sample_ids:
        explain(store, sample_ids[:compute], run=run)
    uris: dict[str, str] = {}
    for sid in sample_ids:
        found = explain(store, [sid], run=run, compute=False)
        if found is None:
            continue
        parts = [_png_uri(found.overlay(0, "predicted"))]
        if found.given[0] is not None and found.given[0] != found.predicted[0]:
            parts.append(_png_uri(found.overlay(0, "given")))
        uris[sid] = "".join(
            f'<img class="saliency" src="{uri}" alt="Grad-CAM {which} {_esc(sid)}" '
            f'title="Grad-CAM: {which}">'
            for uri, which in zip(
                parts, (f"predicted {found.predicted[0]}", f"label {found.given[0]}"), strict=False
            )
        )
    return uris


def _confusion_figure(matrix: pd.DataFrame) -> Any:
    import plotly.graph_objects as go

    counts = matrix.to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        normalised = np.nan_to_num(counts / counts.sum(axis=1, keepdims=True))
    figure = go.Figure(
        go.Heatmap(
            z=normalised,
            x=[str(c) for c in matrix.columns],
            y=[str(i) for i in matrix.index],
            text=counts,
            texttemplate="%{text}" if counts.shape[0] <= 30 else None,
            colorscale="Blues",
            zmin=0,
            zmax=1,
            hovertemplate="label %{y}<br>predicted %{x}<br>%{text} samples<extra></extra>",
            colorbar={"title": "row share"},
        )
    )
    side = max(360, min(900, 40 * len(matrix) + 160))
    figure.update_layout(
        width=side + 120,
        height=side,
        xaxis={"title": "predicted label", "side": "bottom"},
        yaxis={"title": "label", "autorange": "reversed"},
        margin={"l": 80, "r": 20, "t": 20, "b": 80},
    )
    return figure


def _figure_html(figure, state: dict[str, bool]) -> str:
    include = not state.get("plotly_included", False)
    state["plotly_included"] = True
    from erroranalysis.plotting import figure_html

    return figure_html(figure, include_plotlyjs=include)


def _confusion_from_frame(frame: pd.DataFrame, classes: list[str]) -> pd.DataFrame | None:
    if "predicted_label" not in frame.columns:
        return None
    index = {name: i for i, name in enumerate(classes)}
    truth = frame["label"].astype(str).map(index).to_numpy()
    predicted = frame["predicted_label"].astype(str).map(index).to_numpy()
    valid = ~(pd.isna(truth) | pd.isna(predicted))
    k = len(classes)
    counts = np.bincount(
        truth[valid].astype(int) * k + predicted[valid].astype(int), minlength=k * k
    ).reshape(k, k)
    return pd.DataFrame(counts, index=classes, columns=classes)


def _clean_evaluation(frame: pd.DataFrame) -> pd.DataFrame | None:
    """Accuracy on all samples vs without the suspected label errors (cheap: cached columns)."""
    if "predicted_label" not in frame.columns or "is_label_issue" not in frame.columns:
        return None
    correct = (frame["predicted_label"].astype(str) == frame["label"].astype(str)).to_numpy()
    issue = frame["is_label_issue"].fillna(False).to_numpy(dtype=bool)
    rows = [
        ("all samples", len(frame), correct.mean() if len(frame) else np.nan),
        (
            "without suspected label errors",
            int((~issue).sum()),
            correct[~issue].mean() if (~issue).any() else np.nan,
        ),
        (
            "suspected label errors only",
            int(issue.sum()),
            correct[issue].mean() if issue.any() else np.nan,
        ),
    ]
    return pd.DataFrame(rows, columns=["evaluated on", "samples", "accuracy"])


def _evaluation_table(artifact: Any) -> pd.DataFrame | None:
    """The evaluation artifact (``accuracy_all``, ``macro_f1_clean``, …) as one row per version."""
    if not isinstance(artifact, dict) or "accuracy_all" not in artifact:
        return _as_frame(artifact)
    names = {
        "all": "all samples",
        "clean": "without suspected label errors",
        "relabeled": "suspected errors relabelled as suggested",
    }
    flagged = artifact.get("num_flagged")
    total = artifact.get("num_samples")
    rows = []
    for version, name in names.items():
        if f"accuracy_{version}" not in artifact:
            continue
        count = total
        if version == "clean" and total is not None and flagged is not None:
            count = total - flagged
        rows.append(
            (name, count, artifact.get(f"accuracy_{version}"), artifact.get(f"macro_f1_{version}"))
        )
    return pd.DataFrame(rows, columns=["evaluated on", "samples", "accuracy", "macro F1"])


def _slices_table(artifact: Any) -> pd.DataFrame | None:
    frame = _as_frame(artifact)
    if frame is None or frame.empty:
        return frame
    if "weak" in frame.columns:
        frame = pd.concat([frame[frame["weak"].astype(bool)], frame[~frame["weak"].astype(bool)]])
    wanted = [
        c
        for c in ("feature", "value", "size", "accuracy", "ci_low", "ci_high", "gap", "weak")
        if c in frame.columns
    ]
    if "slice" in frame.columns:
        # one column names one- and two-feature slices alike (feature/value shows a pair's first
        # condition only)
        wanted = ["slice"] + [c for c in wanted if c not in ("feature", "value")]
        if "significant" in frame.columns:
            wanted.append("significant")
    return frame[wanted] if len(wanted) >= 3 else frame


def labels_changed_since(store, version: int) -> list[str]:
    """The samples whose current label differs from their label just after event ``version``.

    A relabel undone since, or relabelled back, is no change; flags and notes never are. Reads
    only the label events after ``version`` (``previous_label`` of a sample's first one is its
    label at ``version``).

    Parameters
    ----------
    store : Store
    version : int
        An event id (``store.label_version`` when a result was computed; 0: the given labels).

    Returns
    -------
    list of str
        Sample ids, in the order of their first label event after ``version``.
    """
    if int(version) >= store.label_version:
        return []
    events = store.events(since=int(version))
    changing = events[
        (events["kind"] == "relabel")
        | ((events["kind"] == "undo") & events["previous_label"].notna())  # undo of a relabel
    ]
    if changing.empty:
        return []
    before = changing.drop_duplicates("sample_id", keep="first").set_index("sample_id")
    before = before["previous_label"].astype(object).where(before["previous_label"].notna(), "")
    now = store.labels().reindex(before.index)
    now = now.astype(object).where(now.notna(), "")
    differs = before.astype(str).to_numpy() != now.astype(str).to_numpy()
    return [str(sample_id) for sample_id in before.index[differs]]


def _stale_note(store, run, names: tuple[str, ...]) -> str:
    """A warning when labels changed since a label-dependent artifact was computed (not merely
    when events were journaled since: a relabel undone, flags and notes change no label)."""
    for name in names:
        info = getattr(run, "artifact_info", lambda _name: None)(name)
        if not info or not info.get("label_dependent"):
            continue
        changed = labels_changed_since(store, int(info.get("label_version") or 0))
        if changed:
            noun = "sample's label" if len(changed) == 1 else "samples' labels"
            return (
                f'<p class="missing">Computed before the latest relabels ({len(changed):,} '
                f"{noun} changed since); re-run <code>erroranalysis scan STORE</code> to "
                "refresh.</p>"
            )
    return ""


def _compare_section(store, run) -> str:
    """This run (B) against the store's latest other run (A), and the ranking of every run
    (:func:`erroranalysis.analysis.evaluation.compare_two_runs`); empty with a single run."""
    from erroranalysis.analysis.evaluation import compare_two_runs

    others = [name for name in store.runs() if name != run.name]
    if not others:
        return ""
    comparison = compare_two_runs(store, others[-1], run.name)
    a, b = comparison.run_a, comparison.run_b
    counts = comparison.counts()
    cells = pd.DataFrame(
        {
            "": [f"{a} right", f"{a} wrong"],
            f"{b} right": [counts["both right"], counts["only B right"]],
            f"{b} wrong": [counts["only A right"], counts["both wrong"]],
        }
    )
    per_class = comparison.per_class.rename(
        columns={"accuracy_a": f"A: {a}", "accuracy_b": f"B: {b}", "delta": "B − A"}
    )
    ranking = comparison.ranking
    shown = ["run"] + [
        column
        for version in ("all", "clean", "relabeled", "uncorrected")
        for column in (f"accuracy_{version}", f"rank_{version}")
        if column in ranking.columns
    ]
    attrs = ranking.attrs
    verdict = (
        "<b>The ranking changes</b> once the suspected label errors are removed or relabelled."
        if attrs.get("ranking_changed")
        else "The ranking is the same without the suspected label errors."
    )
    if attrs.get("ranking_changed_uncorrected"):
        verdict += " <b>It changes</b> without the labels people corrected."
    return (
        f"<h2>Comparing runs</h2><p>Run <code>{_esc(a)}</code> (A) against "
        f"<code>{_esc(b)}</code> (B) on the labelled samples and current labels.</p>"
        + _table(cells)
        + "<h3>Per-class accuracy</h3>"
        + _table(per_class, limit=200, float_format="{:.1%}")
        + f"<h3>Ranking of all runs</h3><p>{verdict} Clean and relabelled sets: the label issues "
        f"of run <code>{_esc(attrs.get('reference'))}</code>; uncorrected: the samples whose "
        "label nobody corrected.</p>" + _table(ranking[shown], limit=100)
    )


def _annotators_section(store, run) -> str:
    """Each annotator's quality and the doubtful samples: the run's cached ``annotators``
    analysis when it is up to date (the dashboard's tab shows the same table), else the same
    analysis fitted now (not saved: writing a report never changes the store)."""
    from erroranalysis.analysis.consensus import AnnotatorAgreement

    html = "<h2>Annotators</h2>"
    if AnnotatorAgreement.is_cached(store, run):
        info = run.load_artifact("annotators_info")
        table = run.load_artifact("annotators")
    else:
        analysis = AnnotatorAgreement().fit(store, run)
        info, table = analysis.info_, analysis.annotators_
    if not info or int(info.get("num_annotators") or 0) < 2 or table is None or table.empty:
        return html + "<p>No import of several annotators' answers yet.</p>"
    html += (
        f"<p>{int(info['num_answers']):,} answers by {int(info['num_annotators'])} annotators on "
        f"{int(info['num_samples']):,} samples; consensus by {_esc(info['method'])}; "
        f"{int(info['num_low_consensus']):,} samples wait for a person (doubtful consensus, "
        "back in the annotator queue).</p>"
    )
    table = table.rename(
        columns={"agreement_with_consensus": "agrees with consensus", "num_labeled": "answers"}
    )
    return html + _table(table, limit=100)


def report(
    store,
    path: str | os.PathLike,
    run=None,
    top: int = 24,
    title: str | None = None,
    saliency: int = 0,
) -> Path:
    """Write a self-contained static HTML report of a run.

    Sections: summary metrics, confusion matrix and per-class metrics, most confused pairs, weak
    slices, evaluation with and without the suspected label errors, thumbnails of the top relabel
    candidates and of the weak spots, the comparison with the latest other run (2×2 table,
    per-class accuracy deltas, ranking of all runs) when the store has two runs or more, and the
    annotators' quality when several annotators' answers were imported. Everything comes from
    the scan's cached results (missing parts say to run the scan), Grad-CAM maps from the run's
    cache unless ``saliency`` asks for more.

    Parameters
    ----------
    store : Store
    path : path
        The HTML file to write.
    run : str, optional
        The run to report (default: the latest).
    top : int
        How many relabel candidates to show as thumbnails.
    title : str, optional
    saliency : int
        Grad-CAM maps: every relabel candidate whose maps are cached (the inspector caches what
        it computes) shows them beside its thumbnail (predicted class, then the current label);
        with ``saliency=N`` the first N candidates' maps are computed now, which loads the run's
        model (:func:`erroranalysis.explain`; a run must record its model).

    Returns
    -------
    Path
        The file written.
    """
    if not store.runs():
        raise ErrorAnalysisError(
            f"store {store.path} has no runs; add predictions (ea.predict, store.add_run or "
            "`erroranalysis demo`) and scan them before writing a report"
        )
    opened = store.run(run)
    frame = store.frame(opened)
    scanned = "label_quality" in frame.columns
    state: dict[str, bool] = {}
    sections: list[str] = []
    title = title or f"Error analysis — {Path(store.path).name} / {opened.name}"

    # summary
    matrix = opened.load_artifact("confusion")
    matrix = (
        matrix if isinstance(matrix, pd.DataFrame) else _confusion_from_frame(frame, store.classes)
    )
    cards = [("samples", f"{store.num_samples:,}"), ("classes", f"{store.num_classes:,}")]
    if matrix is not None:
        total = matrix.to_numpy().sum()
        cards.append(("accuracy", f"{np.trace(matrix.to_numpy()) / total:.1%}" if total else "-"))
    from erroranalysis.analysis.issue_types import issue_types

    for issue in issue_types():
        if issue.flag_column in frame.columns:
            cards.append((issue.plural, f"{int(issue.mask(frame).sum()):,}"))
    relabelled = int((store.label_codes() != store.given_codes).sum())
    cards.append(("relabelled", f"{relabelled:,}"))
    flags = store.flags()
    spots = flags[flags["flag"] == "weak_spot"] if len(flags) else flags
    cards.append(("weak spots", f"{len(spots):,}"))
    card_html = "".join(
        f'<div class="card"><b>{_esc(v)}</b><span>{_esc(k)}</span></div>' for k, v in cards
    )
    info = opened.info
    meta = (
        f"model {_esc(info.get('model') or '-')} · "
        f"{'out-of-sample' if opened.out_of_sample else 'in-sample (label issues are optimistic)'} "
        f"predictions · written {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M UTC}"
    )
    sections.append(f'<p class="meta">{meta}</p><div class="cards">{card_html}</div>')
    from erroranalysis.analysis.label_trust import run_label_issue_trust

    trust = run_label_issue_trust(store, opened, frame) if "is_label_issue" in frame else None
    if trust is not None and trust.warn:
        sections.append(f'<p class="missing label-trust">{_esc(trust.message)}</p>')
    if not scanned:
        sections.append(f'<p class="missing">This run has no scan results: {SCAN_HINT}.</p>')

    # confusion
    sections.append("<h2>Confusion matrix</h2>")
    if matrix is None:
        sections.append(f'<p class="missing">No confusion matrix cached: {SCAN_HINT}.</p>')
    else:
        sections.append(
            "<p>Rows: current label; columns: predicted label; colour: share of the row.</p>"
        )
        sections.append(_stale_note(store, opened, ("confusion",)))
        sections.append(_figure_html(_confusion_figure(matrix), state))
    metrics = _as_frame(opened.load_artifact("class_metrics"))
    if metrics is not None:
        sections.append("<h3>Per-class metrics</h3>" + _table(metrics, limit=200))
    pairs = _as_frame(opened.load_artifact("confused_pairs"))
    if pairs is not None and len(pairs):
        sections.append("<h3>Most confused pairs</h3>" + _table(pairs, limit=15))

    # slices
    sections.append("<h2>Weak slices</h2>")
    slices = _slices_table(_load_first(opened, SLICE_ARTIFACTS))
    if slices is None:
        sections.append(f'<p class="missing">No slice metrics cached: {SCAN_HINT}.</p>')
    else:
        sections.append(
            "<p>Slices of the data (metadata values, binned image properties), weak ones "
            "(accuracy clearly below the rest) first.</p>"
        )
        sections.append(_stale_note(store, opened, SLICE_ARTIFACTS) + _table(slices, limit=20))

    # evaluation
    sections.append("<h2>Evaluation with and without suspected label errors</h2>")
    evaluation = _evaluation_table(_load_first(opened, EVALUATION_ARTIFACTS))
    if evaluation is None:
        evaluation = _clean_evaluation(frame)
    if evaluation is None:
        sections.append(f'<p class="missing">No label-issue results cached: {SCAN_HINT}.</p>')
    else:
        sections.append(_stale_note(store, opened, EVALUATION_ARTIFACTS) + _table(evaluation))

    # candidates
    sections.append(f"<h2>Top {top} relabel candidates</h2>")
    if scanned and "is_label_issue" in frame.columns:
        from erroranalysis.export.candidates import select_candidates

        candidates = select_candidates(store, run=opened.name, limit=top)
        maps = _saliency_uris(store, opened, candidates["sample_id"].tolist(), saliency)
        if maps:
            sections.append(
                f"<p>Grad-CAM beside {len(maps)} of them: where the model looked for its "
                "prediction, and for the current label where they differ.</p>"
            )

        def caption(row) -> str:
            suggestion = row.get("suggested_label")
            return (
                f"<b>{_esc(row['sample_id'])}</b><br>label {_esc(row['label'])}"
                + (f" → {_esc(suggestion)}" if isinstance(suggestion, str) and suggestion else "")
                + f"<br>quality {float(row['label_quality']):.3f}"
            )

        sections.append(_thumbs(store, candidates, caption, maps))
    else:
        sections.append(f'<p class="missing">No label issues cached: {SCAN_HINT}.</p>')

    # weak spots
    sections.append("<h2>Weak spots</h2>")
    if len(spots):
        chosen = frame.set_index("sample_id", drop=False).loc[spots["sample_id"]]
        notes = dict(zip(spots["sample_id"], spots["note"], strict=True))

        def spot_caption(row) -> str:
            note = notes.get(row["sample_id"])
            return f"<b>{_esc(row['sample_id'])}</b><br>label {_esc(row['label'])}" + (
                f"<br>{_esc(note)}" if isinstance(note, str) and note else ""
            )

        sections.append(_thumbs(store, chosen.reset_index(drop=True), spot_caption))
    else:
        sections.append("<p>No sample is flagged as a weak spot.</p>")

    sections.append(_compare_section(store, opened))
    sections.append(_annotators_section(store, opened))

    document = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_esc(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{_esc(title)}</h1>{''.join(sections)}</body></html>\n"
    )
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        path = path.with_suffix(".html") if path.suffix == "" else path
    write_text_atomic(path, document)
    return path
