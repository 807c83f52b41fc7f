import re

import numpy as np
import pandas as pd
import pytest

from erroranalysis.errors import ErrorAnalysisError
from erroranalysis.export import flag_weak_spot, report


def _add_predictions(store):
    run = store.run()
    predicted = np.asarray(store.classes)[np.asarray(run.probs).argmax(axis=1)]
    run.save_result("predicted", pd.DataFrame({"predicted_label": predicted}))
    return predicted


def test_report_is_self_contained(store, tmp_path):
    predicted = _add_predictions(store)
    flag_weak_spot(store, "s05", "dark <b>")
    path = report(store, tmp_path / "r.html", top=2)
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>")
    # plotly.js inline exactly once, no network references
    assert text.count("plotly.js v") >= 1
    assert not re.search(r"<script[^>]+src=", text)
    assert text.count("Plotly.newPlot") == 1
    # thumbnails: 2 candidates + 1 weak spot, as data URIs
    assert text.count('<div class="thumb"><img src="data:image/png;base64,') == 3
    assert "dark &lt;b&gt;" in text  # escaped
    accuracy = (predicted == store.labels().to_numpy()).mean()
    assert f"{accuracy:.1%}" in text
    assert "without suspected label errors" in text
    assert "No slice metrics cached" in text and "erroranalysis scan STORE" in text
    assert "<h2>Annotators</h2><p>No import of several annotators' answers yet.</p>" in text


def test_report_uses_cached_artifacts(store, tmp_path):
    run = store.run()
    matrix = pd.DataFrame(
        [[3, 1, 0], [0, 4, 0], [1, 0, 3]], index=store.classes, columns=store.classes
    )
    run.save_artifact("confusion", matrix)
    run.save_artifact(
        "slices",
        pd.DataFrame(
            {
                "feature": ["source", "blur"],
                "value": ["rare", "[0.5, 1)"],
                "slice": ["source=rare", "blur=[0.5, 1) & source=rare"],
                "accuracy": [0.25, 0.2],
                "gap": [-0.4, -0.5],
            }
        ),
    )
    run.save_artifact("evaluation", {"accuracy": 0.8, "accuracy_without_issues": 0.9})
    text = report(store, tmp_path / "r.html").read_text()
    assert "83.3%" in text  # trace 10 / 12
    assert "source=rare" in text and "accuracy_without_issues" in text
    assert "blur=[0.5, 1) &amp; source=rare" in text  # a two-feature slice shows both conditions


def test_report_without_scan_or_runs(tmp_path):
    import erroranalysis as ea

    samples = pd.DataFrame({"sample_id": ["a", "b"], "label": ["x", "y"]})
    store = ea.Store.create(tmp_path / "s", classes=["x", "y"], samples=samples)
    with pytest.raises(ErrorAnalysisError, match="no runs"):
        report(store, tmp_path / "r.html")
    store.add_run("r", np.array([[0.9, 0.1], [0.2, 0.8]], dtype=np.float32))
    text = report(store, tmp_path / "r.html").read_text()
    assert "no scan results" in text


@pytest.mark.slow
def test_report_and_export_after_a_real_scan(tmp_path):
    """The columns and artifacts of the real ``ea.scan`` feed the export and the report."""
    import erroranalysis as ea
    from erroranalysis.export import export_candidates, import_annotations

    from .helpers import label_studio_json, write_json

    rng = np.random.default_rng(0)
    n, classes = 120, ["a", "b", "c"]
    truth = rng.integers(0, 3, n)
    labels = truth.copy()
    flip = rng.random(n) < 0.15
    labels[flip] = (labels[flip] + 1) % 3
    (tmp_path / "images").mkdir()
    from PIL import Image

    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)).save(
            tmp_path / "images" / f"{i}.png"
        )
    samples = pd.DataFrame(
        {
            "sample_id": [f"x{i}" for i in range(n)],
            "label": [classes[c] for c in labels],
            "path": [f"{i}.png" for i in range(n)],
            "source": ["u" if i % 3 else "v" for i in range(n)],
        }
    )
    logits = rng.normal(size=(n, 3))
    logits[np.arange(n), truth] += 3
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    store = ea.Store.create(
        tmp_path / "s", classes=classes, samples=samples, image_root=tmp_path / "images"
    )
    store.add_run(
        "m", probs.astype(np.float32), embeddings=rng.normal(size=(n, 8)).astype(np.float32)
    )
    ea.scan(store, progress=False, params={"projection": {"method": "pca"}})
    result = export_candidates(store, tmp_path / "t.json")
    flagged = store.frame()
    assert result.count == int(flagged["is_label_issue"].sum()) > 0
    quality = flagged.set_index("sample_id").loc[result.sample_ids, "label_quality"].to_numpy()
    assert (np.diff(quality) >= 0).all()
    first = result.sample_ids[0]
    suggestion = str(flagged.set_index("sample_id").loc[first, "suggested_label"])
    if suggestion == store.labels()[first]:
        suggestion = next(name for name in classes if name != suggestion)
    summary = import_annotations(
        store, write_json(tmp_path / "a.json", label_studio_json(result.path, {first: suggestion}))
    )
    assert summary.applied == 1
    text = report(store, tmp_path / "r.html").read_text()
    assert "without suspected label errors" in text and "macro F1" in text
    assert "No slice metrics cached" not in text
    assert "Computed before the latest relabels" in text  # the import relabelled after the scan


def test_stale_banner_only_when_labels_changed_since_the_scan(store, tmp_path):
    """Events alone (a relabel undone, flags, notes) leave the scan's results current."""
    run = store.run()
    store.relabel("s01", "bird")  # before the "scan": part of what it saw
    matrix = pd.DataFrame(
        [[3, 1, 0], [0, 4, 0], [1, 0, 3]], index=store.classes, columns=store.classes
    )
    run.save_artifact("confusion", matrix, label_dependent=True, label_version=store.label_version)

    def banner() -> bool:
        return (
            "Computed before the latest relabels" in report(store, tmp_path / "r.html").read_text()
        )

    assert not banner()
    store.relabel("s02", "cat")
    store.undo()  # relabel + undo: the label is what the scan saw
    store.flag("s03", "weak_spot", note="dark")
    store.note("s04", "looks fine")
    store.relabel("s05", store.labels()["s05"])  # relabelled to the label it has
    assert store.events(since=0)["kind"].tolist()[-5:] == [
        "relabel",
        "undo",
        "flag",
        "note",
        "relabel",
    ]
    assert not banner()
    store.relabel("s01", "dog")
    text = report(store, tmp_path / "r.html").read_text()
    assert "Computed before the latest relabels (1 sample's label changed since)" in text
    store.relabel("s01", "bird")  # back to the label the scan saw
    assert not banner()
    store.relabel("s06", "bird")  # cat -> bird
    store.relabel("s07", "bird")  # dog -> bird
    assert "(2 samples' labels changed since)" in report(store, tmp_path / "r.html").read_text()


def test_labels_changed_since_counts_undo_back_to_unlabelled(store):
    from erroranalysis.export.report import labels_changed_since

    version = store.label_version
    assert labels_changed_since(store, version) == []
    event = store.relabel("s00", "dog")
    assert labels_changed_since(store, version) == ["s00"]
    assert labels_changed_since(store, event) == []
    store.undo(event)
    assert labels_changed_since(store, version) == []
    assert labels_changed_since(store, event) == ["s00"]  # the undo changed it after `event`


def test_report_says_when_label_issues_come_from_a_model_too_weak_to_trust(store, tmp_path):
    predicted = _add_predictions(store)  # the fixture's random probabilities: near chance
    labels = store.labels().astype(str).to_numpy()
    accuracy = (predicted == labels).mean()
    text = report(store, tmp_path / "r.html").read_text()
    assert "Label-issue flags are not reliable for this run" in text
    assert f"agrees with the labels on {accuracy:.1%} of 12 labelled samples" in text
    assert "most of the 3 flagged samples" in text

    # a model that agrees with the labels: no warning
    k = store.num_classes
    codes = np.asarray(store.label_codes())
    probs = np.full((store.num_samples, k), 0.05, dtype=np.float32)
    probs[np.arange(store.num_samples), codes] = 1 - 0.05 * (k - 1)
    good = store.add_run("good", probs)
    good.save_result(
        "issues",
        pd.DataFrame(
            {
                "predicted_label": np.asarray(store.classes)[codes],
                "label_quality": probs.max(axis=1),
                "is_label_issue": np.zeros(store.num_samples, dtype=bool),
            }
        ),
    )
    text = report(store, tmp_path / "good.html", run="good").read_text()
    assert "not reliable" not in text and "label-trust" not in text
