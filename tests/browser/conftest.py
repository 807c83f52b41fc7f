"""Fixtures for the real-browser tests: an isolated JupyterLab server and a Chromium page.

The tests here skip only where Chromium cannot be had (``/usr/bin/chromium`` missing) *and* the
environment variable ``CI`` is unset; they say so loudly in the report header and the skip reason.
In CI (``CI`` set) they fail instead: run ``scripts/install-chromium.sh`` first.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from . import lab

HERE = Path(__file__).resolve().parent
IN_CI = bool(os.environ.get("CI"))


def _missing_reason() -> str | None:
    if not lab.chromium_available():
        return (
            f"Chromium not found at {lab.CHROMIUM}: install it with scripts/install-chromium.sh"
            " (apt-get install -y chromium)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package 'playwright' is not installed (pip install playwright)"
    return None


def _is_browser_item(item) -> bool:
    return HERE in Path(str(item.path)).resolve().parents


def pytest_report_header(config):
    reason = _missing_reason()
    if reason is None:
        return f"browser tests: Chromium {lab.CHROMIUM}; artifacts in {lab.artifacts_dir()}"
    verdict = "WILL FAIL (CI is set)" if IN_CI else "WILL BE SKIPPED"
    bar = "!" * 78
    return [bar, f"!!! browser tests {verdict}: {reason}", bar]


def pytest_collection_modifyitems(config, items):
    reason = _missing_reason()
    if reason is None or IN_CI:
        return  # in CI a missing Chromium fails in the fixtures below, loudly
    mark = pytest.mark.skip(reason=f"BROWSER TESTS SKIPPED: {reason}")
    for item in items:
        if _is_browser_item(item):
            item.add_marker(mark)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    reason = _missing_reason()
    skipped = [
        r
        for r in terminalreporter.stats.get("skipped", [])
        if "BROWSER TESTS SKIPPED" in str(r.longrepr)
    ]
    if reason is not None and skipped:
        terminalreporter.write_sep("!", "BROWSER TESTS WERE SKIPPED", red=True, bold=True)
        terminalreporter.write_line(
            f"{len(skipped)} browser test(s) did not run: {reason}", red=True
        )
        terminalreporter.write_line("In CI (CI set) they fail instead of skipping.", red=True)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if _is_browser_item(item):
        setattr(item, f"rep_{report.when}", report)
    return report


# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory) -> Path:
    """The JupyterLab server's root directory (notebooks and stores go here)."""
    return tmp_path_factory.mktemp("lab")


@pytest.fixture(scope="session")
def lab_store_path(lab_root) -> Path:
    """Where the store that notebooks open lives (``$ERRORANALYSIS_STORE`` in the kernels).

    The server starts before the store exists; a test builds it here before running a notebook.
    """
    return lab_root / "store"


@pytest.fixture(scope="session", autouse=True)
def store_build(request, lab_store_path):
    """Start building the dashboard test's store at once, in a subprocess, when that test is
    selected: it then overlaps JupyterLab's start and the click-path probe."""
    if _missing_reason() is not None or not any(
        Path(str(item.path)).name == "test_dashboard.py" for item in request.session.items
    ):
        yield None
        return
    from .stores import DASHBOARD_SAMPLES, start_build

    process = start_build(lab_store_path, n_samples=DASHBOARD_SAMPLES)
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def jupyterlab(lab_root, lab_store_path):
    """A JupyterLab server isolated in a temp dir; stopped by its pid at the end of the session."""
    reason = _missing_reason()
    if reason is not None:
        pytest.fail(f"browser tests cannot run in CI: {reason}")
    pythonpath = os.pathsep.join(
        p for p in [str(lab.REPO_ROOT), os.environ.get("PYTHONPATH", "")] if p
    )
    env = {
        "ERRORANALYSIS_STORE": str(lab_store_path),
        "PYTHONPATH": pythonpath,
        "ERRORANALYSIS_CLICK_LOG": str(lab_root / "clicks.jsonl"),
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1",
    }
    for stale in lab.artifacts_dir().glob("FAILED-*"):  # from an earlier session
        stale.unlink()
    server = lab.start_jupyterlab(lab_root, env=env)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def chromium():
    """A headless Chromium (Debian's) driven by Playwright, shared by one test module.

    Module scope, not session: while Playwright's sync API is running it keeps an asyncio loop
    running in this thread, which would change the behaviour of every later test that looks for
    a running loop (the dashboard's poller, ``asyncio.run``).
    """
    reason = _missing_reason()
    if reason is not None:
        pytest.fail(f"browser tests cannot run in CI: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = lab.launch_chromium(pw)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(request, chromium, jupyterlab):
    """A fresh browser page; on failure a screenshot, the console log and the server log tail
    go to the artifacts folder; the server's kernels are shut down afterwards."""
    context = chromium.new_context(viewport=lab.VIEWPORT)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    console: list[str] = []
    lab.attach_console_log(pg, console)
    try:
        yield pg
    finally:
        name = lab.safe_name(request.node.nodeid.split("::", 1)[-1])
        failed = any(
            getattr(getattr(request.node, f"rep_{w}", None), "failed", False)
            for w in ("setup", "call")
        )
        if failed:
            lab.save_screenshot(pg, f"FAILED-{name}")
            (lab.artifacts_dir() / f"FAILED-{name}-console.log").write_text("\n".join(console))
            (lab.artifacts_dir() / f"FAILED-{name}-jupyterlab.log").write_text(
                jupyterlab.log_tail(20_000)
            )
        context.close()
        jupyterlab.shutdown_kernels()
