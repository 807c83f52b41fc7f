"""The annotator hand-off round trip against a real Label Studio server.

Starts ``label-studio`` from ``.venv-labelstudio`` on 127.0.0.1 with a temporary data folder and a
preset admin user, gets API access with a personal access token (JWT; legacy tokens are off by
default since 1.17, so a preset legacy token enabled with ``--enable-legacy-api-token`` is only
the fallback), creates a project with our labeling config and a Local Files storage for our
images, imports our exported tasks through the API, submits annotations through the API as an
annotator would (agreeing with the suggestion, disagreeing, keeping the given label, cancelled),
exports JSON, JSON_MIN and CSV through the API and imports them back into the store.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from erroranalysis.export import export_candidates, import_annotations

from .conftest import REPO, make_store, tool_python

pytestmark = [pytest.mark.integration, pytest.mark.slow]


USER = "annotator@example.com"
STARTUP_TIMEOUT_S = 300  # a fresh data folder runs all migrations: 45-100 s on 2 busy cores


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory):
    """A running Label Studio: (base url, API session, document root). Stopped by pid after."""
    tool_python(".venv-labelstudio", "label-studio")
    folder = tmp_path_factory.mktemp("label-studio")
    document_root = folder / "files"
    document_root.mkdir()
    port = _free_port()
    token = secrets.token_hex(20)
    env = {
        **os.environ,
        "LABEL_STUDIO_BASE_DATA_DIR": str(folder / "data"),
        "LOCAL_FILES_SERVING_ENABLED": "true",
        "LOCAL_FILES_DOCUMENT_ROOT": str(document_root),
        "LABEL_STUDIO_USERNAME": USER,
        "LABEL_STUDIO_PASSWORD": secrets.token_hex(8),
        "LABEL_STUDIO_USER_TOKEN": token,
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
        "COLLECT_ANALYTICS": "false",
    }
    log = open(folder / "server.log", "w")  # noqa: SIM115 - closed after the server stops
    server = subprocess.Popen(
        [
            str(REPO / ".venv-labelstudio" / "bin" / "label-studio"),
            "start",
            "--no-browser",
            "--internal-host",
            "127.0.0.1",
            "--port",
            str(port),
            "--username",
            USER,
            "--password",
            env["LABEL_STUDIO_PASSWORD"],
            "--user-token",
            token,
            "--enable-legacy-api-token",
        ],
        env=env,
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if server.poll() is not None:
                pytest.fail(f"label-studio exited with {server.returncode}: {_tail(folder)}")
            try:
                if requests.get(f"{base}/health", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"label-studio did not answer within {STARTUP_TIMEOUT_S} s: {_tail(folder)}"
                )
            time.sleep(2)
        session = _api_session(base, USER, env["LABEL_STUDIO_PASSWORD"], token)
        yield base, session, document_root
    finally:
        # stop the server we started, by its process group (it was started in its own session)
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=30)
        log.close()


class _JWTSession(requests.Session):
    """Bearer access tokens from a personal access token, refreshed when they expire (5 min)."""

    def __init__(self, base: str, personal_token: str):
        super().__init__()
        self.base, self.personal_token = base, personal_token
        self._refresh()

    def _refresh(self) -> None:
        answer = requests.post(
            f"{self.base}/api/token/refresh/", json={"refresh": self.personal_token}, timeout=30
        )
        answer.raise_for_status()
        self.headers["Authorization"] = f"Bearer {answer.json()['access']}"

    def request(self, method, url, *args, **kwargs):
        response = super().request(method, url, *args, **kwargs)
        if response.status_code == 401:
            self._refresh()
            response = super().request(method, url, *args, **kwargs)
        return response


def _api_session(base: str, user: str, password: str, legacy_token: str) -> requests.Session:
    """API access: a personal access token (JWT, the default since 1.17), else the legacy token.

    The personal access token is created as a user would in the UI: log in (session cookie and
    CSRF token), ``POST /api/token/``, then exchange it for short-lived access tokens at
    ``/api/token/refresh/``. The legacy token was preset with ``--user-token`` and enabled with
    ``--enable-legacy-api-token``.
    """
    browser = requests.Session()
    browser.get(f"{base}/user/login/", timeout=30)
    browser.post(
        f"{base}/user/login/",
        data={
            "email": user,
            "password": password,
            "csrfmiddlewaretoken": browser.cookies.get("csrftoken", ""),
        },
        headers={"Referer": f"{base}/user/login/"},
        allow_redirects=False,
        timeout=30,
    )
    created = browser.post(
        f"{base}/api/token/",
        headers={"X-CSRFToken": browser.cookies.get("csrftoken", ""), "Referer": f"{base}/"},
        timeout=30,
    )
    if created.status_code == 201 and created.json().get("token"):
        session = _JWTSession(base, created.json()["token"])
        if session.get(f"{base}/api/projects", timeout=30).status_code == 200:
            return session
    legacy = requests.Session()
    legacy.headers["Authorization"] = f"Token {legacy_token}"
    answer = legacy.get(f"{base}/api/projects", timeout=30)
    if answer.status_code != 200:
        pytest.fail(
            "no API access to Label Studio: personal access token "
            f"{created.status_code} {created.text[:200]}; legacy token {answer.status_code}"
        )
    return legacy


def _tail(folder: Path) -> str:
    text = (folder / "server.log").read_text(errors="replace")
    return text[-2000:]


def _ok(response, status=(200, 201)):
    assert response.status_code in status, (
        f"{response.request.method} {response.url}: {response.status_code} {response.text[:500]}"
    )
    return response


def _choice(label: str) -> list[dict]:
    return [
        {"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": [label]}}
    ]


def test_round_trip_through_label_studio(label_studio, tmp_path):
    base, api, document_root = label_studio

    # the images live in <document root>/images: the default local-files references are
    # relative to the image root's parent, and the Local Files storage path is the image root
    store = make_store(document_root)
    result = export_candidates(store, tmp_path / "tasks.json", issue_types="all", limit=8)
    assert result.sample_ids[:3] == ["s00", "s03", "s06"]
    config = result.files[1].read_text()

    project = _ok(
        api.post(
            f"{base}/api/projects",
            json={"title": "erroranalysis round trip", "label_config": config},
        )
    ).json()
    pid = project["id"]
    _ok(
        api.post(
            f"{base}/api/storages/localfiles",
            json={
                "project": pid,
                "path": str(store.image_root),
                "title": "images",
                "use_blob_urls": False,
            },
        )
    )
    imported = _ok(
        api.post(f"{base}/api/projects/{pid}/import", json=json.loads(result.path.read_text()))
    ).json()
    assert imported["task_count"] == 8 and imported["prediction_count"] == 8

    tasks = _ok(api.get(f"{base}/api/tasks", params={"project": pid, "page_size": 100})).json()[
        "tasks"
    ]
    by_sample = {task["data"]["sample_id"]: task for task in tasks}
    assert set(by_sample) == set(result.sample_ids)
    # our image references are served by Label Studio (the path has a space in it)
    image = _ok(api.get(base + by_sample["s00"]["data"]["image"]))
    assert image.headers["content-type"] == "image/png"
    assert image.content == (store.image_root / "sub dir" / "img 00.png").read_bytes()
    # the prediction carries the model's suggestion and the label-quality score
    full = _ok(api.get(f"{base}/api/tasks/{by_sample['s00']['id']}")).json()
    assert full["predictions"][0]["result"][0]["value"]["choices"] == ["dog"]
    assert full["predictions"][0]["score"] == pytest.approx(0.05)

    answers = {
        "s00": _choice("dog"),  # agrees with the suggestion (cat -> dog)
        "s03": _choice("cat"),  # disagrees with the suggestion: keeps the given label
        "s06": _choice("bird"),  # neither given nor suggested
        "s01": _choice("cat"),  # the planted conflict: relabelled in the store after export
    }
    for sample_id, result_items in answers.items():
        _ok(
            api.post(
                f"{base}/api/tasks/{by_sample[sample_id]['id']}/annotations/",
                json={"result": result_items},
            )
        )
    cancelled = next(sid for sid in result.sample_ids if sid not in answers)
    _ok(
        api.post(
            f"{base}/api/tasks/{by_sample[cancelled]['id']}/annotations/",
            json={"result": [], "was_cancelled": True},
        )
    )

    files = {}
    for export_type, name in (
        ("JSON", "export.json"),
        ("JSON_MIN", "export-min.json"),
        ("CSV", "export.csv"),
    ):
        response = _ok(
            api.get(f"{base}/api/projects/{pid}/export", params={"exportType": export_type})
        )
        files[export_type] = tmp_path / name
        files[export_type].write_bytes(response.content)

    store.relabel("s01", "bird", author="reviewer")  # after the export: s01 was "dog" then

    before = store.last_event_id
    preview = import_annotations(store, files["JSON_MIN"], format="label-studio-min", dry_run=True)
    # JSON_MIN and CSV leave cancelled annotations out, so nothing is skipped there
    assert (preview.applied, preview.unchanged, preview.conflicts, preview.skipped) == (2, 1, 1, 0)
    assert store.last_event_id == before

    summary = import_annotations(store, files["JSON"], format="label-studio")
    assert (summary.applied, summary.unchanged, summary.conflicts, summary.skipped) == (
        2,
        1,
        1,
        1,
    ), summary.rows
    assert str(summary).startswith("applied 2, unchanged 1, conflicts 1")
    assert summary.conflict_rows["sample_id"].tolist() == ["s01"]
    labels = store.labels()
    assert labels[["s00", "s03", "s06", "s01"]].tolist() == ["dog", "cat", "bird", "bird"]
    events = store.events(since=before)
    relabels = events[events["kind"] == "relabel"]
    assert sorted(relabels["sample_id"]) == ["s00", "s06"]
    assert set(relabels["source"]) == {f"import:label-studio:{result.export_id}"}
    assert set(relabels["author"]) == {"label-studio-user:1"} or set(relabels["author"]) == {USER}
    assert set(relabels["previous_label"]) == {"cat"}
    assert events["batch"].nunique() == 1  # one transaction, undone as one

    # the other two exports of the same answers add nothing
    last = store.last_event_id
    for export_type, fmt in (
        ("JSON_MIN", "label-studio-min"),
        ("CSV", "label-studio-csv"),
        ("JSON", "label-studio"),
    ):
        again = import_annotations(store, files[export_type], format=fmt)
        assert (again.applied, again.unchanged, again.conflicts) == (0, 3, 1), (fmt, again.rows)
    assert store.last_event_id == last

    # forcing applies the conflicting answer
    forced = import_annotations(store, files["CSV"], format="label-studio-csv", force=True)
    assert forced.applied == 1 and store.labels()["s01"] == "cat"
    event = store.history("s01").iloc[-2 if store.history("s01").iloc[-1]["kind"] == "flag" else -1]
    assert (
        event["kind"] == "relabel"
        and event["source"] == f"import:label-studio-csv:{result.export_id}"
    )


def _annotator_session(
    base: str, api: requests.Session, email: str
) -> tuple[requests.Session, int]:
    """A second account, signed up through the organisation's invite link as a colleague would,
    with its own API access; returns the session and the user id Label Studio exports."""
    invite = _ok(api.get(f"{base}/api/invite")).json()
    url = f"{base}/user/signup/?token={invite['token']}"
    browser = requests.Session()
    browser.get(url, timeout=30)
    password = "Pw-" + secrets.token_hex(8)
    answer = browser.post(
        url,
        data={
            "email": email,
            "password": password,
            "csrfmiddlewaretoken": browser.cookies.get("csrftoken", ""),
        },
        headers={"Referer": url},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 302, (
        f"sign-up of {email}: {answer.status_code} {answer.text[:300]}"
    )
    session = _api_session(base, email, password, "no-legacy-token")
    me = _ok(session.get(f"{base}/api/current-user/whoami")).json()
    assert me["email"] == email
    return session, int(me["id"])


def test_queue_and_two_annotators_consensus_through_label_studio(label_studio, tmp_path):
    """The annotator queue goes out with the model's suggestion; two annotator accounts answer
    the same tasks; the export comes back as a consensus (CROWDLAB), doubtful ones to a person."""
    import numpy as np
    import pandas as pd

    import erroranalysis as ea
    from erroranalysis.analysis.consensus import LOW_CONSENSUS_FLAG
    from erroranalysis.export import export_queue

    base, api, document_root = label_studio
    store = make_store(document_root / "queue", n=24)
    # half the samples lose their label: the queue is theirs (too few labels for a threshold)
    classes = list(store.classes)
    truth = {f"s{i:02d}": classes[i % 3] for i in range(24)}
    hidden = [f"s{i:02d}" for i in range(12, 24)]
    frame = store.samples.copy()
    frame["label"] = [None if sid in hidden else truth[sid] for sid in frame["sample_id"]]
    store = ea.Store.create(
        document_root / "queue-store",
        classes=classes,
        samples=frame.drop(columns=["given_label"]),
        image_root=store.image_root,
    )
    rng = np.random.default_rng(4)
    probs = rng.dirichlet(np.ones(3) * 0.7, size=24)
    for i, sid in enumerate(truth):  # the model is right, confidently, on most samples
        if i % 5:
            probs[i] = 0.1
            probs[i, classes.index(truth[sid])] = 0.8
    store.add_run("cv", probs.astype(np.float32), out_of_sample=True)

    result = export_queue(store, tmp_path / "queue.json", document_root=document_root)
    assert sorted(result.sample_ids) == hidden
    project = _ok(
        api.post(
            f"{base}/api/projects",
            json={"title": "erroranalysis queue", "label_config": result.files[1].read_text()},
        )
    ).json()
    pid = project["id"]
    _ok(
        api.post(
            f"{base}/api/storages/localfiles",
            json={"project": pid, "path": str(store.image_root), "title": "images"},
        )
    )
    imported = _ok(
        api.post(f"{base}/api/projects/{pid}/import", json=json.loads(result.path.read_text()))
    ).json()
    assert imported["task_count"] == 12 and imported["prediction_count"] == 12
    tasks = _ok(api.get(f"{base}/api/tasks", params={"project": pid, "page_size": 100})).json()[
        "tasks"
    ]
    by_sample = {task["data"]["sample_id"]: task for task in tasks}
    full = _ok(api.get(f"{base}/api/tasks/{by_sample[result.sample_ids[0]]['id']}")).json()
    queue = ea.annotation_queue(store)
    assert full["predictions"][0]["result"][0]["value"]["choices"] == [
        queue["suggested_label"].iloc[0]
    ]
    assert full["data"]["given_label"] == ""

    kim, kim_id = _annotator_session(base, api, "kim@example.com")
    lou, lou_id = _annotator_session(base, api, "lou@example.com")
    # kim is right on every task; lou disagrees on three of them
    disagreed = hidden[:3]
    for session, wrong in ((kim, []), (lou, disagreed)):
        for sid in hidden:
            label = truth[sid]
            if sid in wrong:
                label = classes[(classes.index(label) + 1) % 3]
            _ok(
                session.post(
                    f"{base}/api/tasks/{by_sample[sid]['id']}/annotations/",
                    json={"result": _choice(label)},
                )
            )
    files = {}
    for export_type, name in (("JSON", "export.json"), ("JSON_MIN", "export-min.json")):
        response = _ok(
            api.get(f"{base}/api/projects/{pid}/export", params={"exportType": export_type})
        )
        files[export_type] = tmp_path / name
        files[export_type].write_bytes(response.content)

    preview = import_annotations(store, files["JSON_MIN"], format="label-studio-min", dry_run=True)
    summary = import_annotations(store, files["JSON"], format="label-studio")
    annotators = {f"label-studio-user:{kim_id}", f"label-studio-user:{lou_id}"}
    for found in (preview, summary):
        assert found.consensus_method == "crowdlab" and len(found.consensus) == 12
        assert set(found.annotators["annotator"]) == annotators
        assert (found.applied, found.conflicts) == (summary.applied, summary.conflicts)
    # the nine agreed samples are labelled, by both; only doubtful disagreements wait for a person
    labels = store.labels()
    agreed = [sid for sid in hidden if sid not in disagreed]
    assert labels[agreed].astype(str).tolist() == [truth[sid] for sid in agreed]
    assert summary.conflicts == summary.low_consensus <= 3
    assert summary.applied == 12 - summary.conflicts
    conflicts = set(summary.conflict_rows["sample_id"])
    assert conflicts <= set(disagreed)
    settled = [sid for sid in disagreed if sid not in conflicts]  # the model sides with kim
    assert labels[settled].astype(str).tolist() == [truth[sid] for sid in settled]
    events = store.events()
    assert events["batch"].nunique() == 1
    relabels = events[events["kind"] == "relabel"].set_index("sample_id")
    assert set(relabels.loc[agreed[0], "author"].split("+")) == annotators
    notes = events[events["kind"] == "note"]
    assert len(notes) == 24 and set(notes["author"]) == annotators
    flags = store.flags()
    assert set(flags.loc[flags["flag"] == LOW_CONSENSUS_FLAG, "sample_id"]) == conflicts
    # a doubtful sample is back in the queue; settled ones are not
    again = ea.annotation_queue(store)
    assert set(again["sample_id"]) == conflicts
    # the same answers as JSON_MIN add nothing
    last = store.last_event_id
    assert import_annotations(store, files["JSON_MIN"], format="label-studio-min").applied == 0
    assert store.last_event_id == last
    assert pd.Series(list(annotators)).isin(ea.annotator_quality(store)["annotator"]).all()
