import json

import pytest

from erroranalysis.cli import main

from .helpers import label_studio_json, write_json


def test_export_import_report_verbs(store, tmp_path, capsys):
    out = tmp_path / "tasks.json"
    assert main(["export", str(store.path), "-o", str(out), "--limit", "2"]) == 0
    assert "exported 2 samples" in capsys.readouterr().out
    assert len(json.loads(out.read_text())) == 2
    answered = write_json(tmp_path / "a.json", label_studio_json(out, {"s00": "dog"}))
    assert main(["import", str(store.path), str(answered), "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("would apply 1")
    assert main(["import", str(store.path), str(answered)]) == 0
    assert capsys.readouterr().out.startswith("applied 1")
    assert main(["import", str(store.path), str(answered)]) == 0
    assert capsys.readouterr().out.startswith("applied 0, unchanged 1")
    store.relabel("s03", "bird")
    conflicting = write_json(tmp_path / "b.json", label_studio_json(out, {"s03": "dog"}))
    assert main(["import", str(store.path), str(conflicting)]) == 0
    printed = capsys.readouterr().out
    assert "conflicts 1" in printed
    assert "conflict s03: relabelled in the store since the export (cat -> bird)" in printed
    assert "the file says dog" in printed
    assert (
        main(
            [
                "export",
                str(store.path),
                "-o",
                str(tmp_path / "c.csv"),
                "--format",
                "csv",
                "--issue-types",
                "all",
                "--slice",
                "source=rare",
                "--max-quality",
                "0.5",
            ]
        )
        == 0
    )
    assert main(["report", str(store.path), "-o", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["export", "{store}", "-o", "{tmp}/x.json", "--classes", "cow"], "cow"),
        (["export", "{store}", "-o", "{tmp}/x.json", "--what", "weak-spots"], "weak spot"),
        (["import", "{store}", "{tmp}/missing.json"], "missing.json"),
        (["import", "{store}", "{tmp}/bad.json"], "refused"),
        (["export", "{tmp}/nostore", "-o", "{tmp}/x.json"], "nostore"),
    ],
)
def test_bad_input_is_one_line_exit_2(store, tmp_path, capsys, argv, message):
    write_json(
        tmp_path / "bad.json",
        [
            {
                "data": {"sample_id": "ghost"},
                "annotations": [
                    {
                        "result": [
                            {"from_name": "label", "type": "choices", "value": {"choices": ["cat"]}}
                        ]
                    }
                ],
            }
        ],
    )
    argv = [a.format(store=store.path, tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert err.count("\n") == 1
