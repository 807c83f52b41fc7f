"""First paint of the demo: from ``erroranalysis demo`` to the quickstart's dashboard in Chromium.

What a newcomer waits for after ``make demo`` (install excluded): the staged demo builds and
publishes its quick run, starts JupyterLab on ``notebooks/quickstart.ipynb`` (the full run
trains in the background), the browser opens the notebook, the user runs it, and the dashboard
draws. This script does exactly that, headless: it starts ``erroranalysis demo --no-browser
--port P`` (JupyterLab isolated in a temporary folder: its own config, settings and workspaces,
autosave off so the repository's notebook is never rewritten, the notebook's scratch files under
``ERRORANALYSIS_WORKDIR`` in the same folder), opens the notebook in headless Chromium as soon
as the server answers (as ``make demo`` opens the user's browser), waits for a connected idle
kernel, runs the cells up to the one that shows the dashboard and stops the clock when the dashboard has drawn: the confusion matrix's
cells, the scatter's points drawn by WebGL and the gallery's first thumbnails are in the page.
``--reuse DEMO`` starts from a copy of a built demo, so that only JupyterLab, the kernel and the
paint are timed.

The machine may be shared, so beside each wall time it reports the CPU seconds spent by the
demo's process tree (build, JupyterLab, the kernel, the background training) and by the browser
up to that moment, and the load average. Chromium is started before the clock (the user's
browser is already running).

    python -m bench.demo_first_paint [--samples 2000] [--timeout 600] [--screenshot PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "notebooks/quickstart.ipynb"
TARGET_SECONDS = 90.0

CHROMIUM = Path(os.environ.get("ERRORANALYSIS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

_KERNEL_READY_JS = """() => {
  const app = window.jupyterapp;
  if (!app || !app.started) return false;
  const w = app.shell.currentWidget;
  if (!w || !w.sessionContext || !w.sessionContext.session) return false;
  const k = w.sessionContext.session.kernel;
  return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
}"""

# The dashboard has drawn: the confusion matrix's cells, the WebGL scatter's points (the state its
# front-end exposes, as tests/browser/test_dashboard.py reads it) and the gallery's thumbnails.
_STATE_JS = """() => {
  const d = document.querySelector('.jp-OutputArea-output .ea-dashboard');
  const cells = d ? d.querySelectorAll('.ea-confusion td.ea-cell').length : 0;
  const scatter = d ? d.querySelector('.ea-scatter') : null;
  const points = scatter && scatter.eaScatterState ? scatter.eaScatterState() : null;
  const thumbs = d ? d.querySelectorAll('.ea-gallery .ea-thumb').length : 0;
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const model = panel && panel.content && panel.content.model ? panel.content.model.cells : null;
  let errors = 0;
  for (let i = 0; model && i < model.length; i++) {
    const cell = model.get(i);
    if (cell.type !== 'code') continue;
    for (let j = 0; j < cell.outputs.length; j++)
      if (cell.outputs.get(j).type === 'error') errors++;
  }
  const drawn = !!points && points.drawn;
  return {dashboard: !!d, cells, points: points ? points.points : 0, drawn, thumbs, errors,
          painted: !!d && cells > 0 && drawn && thumbs > 0};
}"""


# Run the cells up to and including the one that shows the dashboard, as a user does. (Run All
# would leave the dashboard's front-end waiting: its requests to the kernel, for the scatter's
# points and the thumbnails, queue behind the cells still running, the retraining included.)
_RUN_TO_DASHBOARD_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.model.cells;
  let show = -1;
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type === 'code' && cell.sharedModel.getSource().includes('ea.show(')) { show = i; break; }
  }
  if (show < 0) throw new Error('no cell calls ea.show(');
  panel.content.activeCellIndex = show + 1;
  return window.jupyterapp.commands.execute('notebook:run-all-above');
}"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ticks() -> dict[int, tuple[int, float]]:
    """``pid -> (parent pid, CPU seconds incl. reaped children)`` of every process, from /proc."""
    hertz = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the command: state ppid ... utime(12) stime(13) cutime(14) cstime(15)
        parent = int(fields[1])
        seconds = sum(int(value) for value in fields[11:15]) / hertz
        table[int(entry.name)] = (parent, seconds)
    return table


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of ``root`` and all its live descendants (reaped ones count in their parent)."""
    table = _ticks()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            total += table[pid][1]
        todo.extend(children.get(pid, []))
    return total


def _lab_environment(base: Path, token: str) -> dict[str, str]:
    """JupyterLab isolated under ``base``: quiet, every cell in the DOM, autosave off."""
    jupyter = base / ".jupyter"
    dirs = {
        "JUPYTER_CONFIG_DIR": jupyter / "config",
        "JUPYTER_RUNTIME_DIR": jupyter / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": jupyter / "lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": jupyter / "lab-workspaces",
    }
    for folder in dirs.values():
        folder.mkdir(parents=True, exist_ok=True)
    settings = {
        "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
        "notebook-extension/tracker": {"windowingMode": "none"},
        "docmanager-extension/plugin": {"autosave": False},
    }
    for name, value in settings.items():
        path = dirs["JUPYTERLAB_SETTINGS_DIR"] / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    config = {
        "IdentityProvider": {"token": token},
        "ServerApp": {"ip": "127.0.0.1"},
        "LabApp": {"expose_app_in_browser": True},
    }
    (dirs["JUPYTER_CONFIG_DIR"] / "jupyter_server_config.json").write_text(json.dumps(config))
    env = {**os.environ, **{key: str(value) for key, value in dirs.items()}}
    env.pop("JUPYTER_PATH", None)
    env.pop("ERRORANALYSIS_STORE", None)
    env["ERRORANALYSIS_WORKDIR"] = str(base / "work")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _answers(port: int, token: str) -> bool:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/status", headers={"Authorization": f"token {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=2):
            return True
    except (urllib.error.URLError, OSError):
        return False


def _mark(marks: dict[str, float], name: str, started: float) -> None:
    marks[name] = time.perf_counter() - started
    print(f"  {marks[name]:6.1f} s  {name}", flush=True)


def measure(
    samples: int | None, timeout: float, screenshot: Path | None, reuse: Path | None = None
) -> dict:
    """One first-paint measurement; returns the times (seconds after the start) and CPU.

    The result has ``error`` set (and the marks reached so far) when the dashboard did not draw
    within ``timeout`` seconds or the notebook failed. ``reuse``: a built demo, copied first, so
    ``erroranalysis demo`` reuses it and only JupyterLab, the notebook and the paint are timed.
    """
    from playwright.sync_api import sync_playwright

    from erroranalysis.machine import machine_description

    marks: dict[str, float] = {}
    cpu: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="ea-first-paint-") as temporary:
        base = Path(temporary)
        token, port = secrets.token_hex(16), _free_port()
        env = _lab_environment(base, token)
        out = base / "demo-store"
        if reuse is not None:
            import shutil

            shutil.copytree(reuse, out, ignore=shutil.ignore_patterns("demo-finish.log"))
        command = [sys.executable, "-m", "erroranalysis", "demo", "--out", str(out)]
        command += ["--no-browser", "--port", str(port), "--quiet"]
        if samples is not None:
            command += ["--samples", str(samples)]
        log_path = base / "demo.log"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport={"width": 1600, "height": 1200})
            browser_pids = [p for p in _ticks() if _is_chromium(p)]
            browser_before = sum(tree_cpu_seconds(p) for p in browser_pids)
            load_before = os.getloadavg()[0]
            with open(log_path, "w") as log:
                started = time.perf_counter()
                demo = subprocess.Popen(
                    command,
                    cwd=REPO_ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            try:
                deadline = started + timeout
                while not _answers(port, token):
                    if demo.poll() is not None:
                        raise RuntimeError(f"demo exited early:\n{log_path.read_text()[-3000:]}")
                    if time.perf_counter() > deadline:
                        raise TimeoutError(f"JupyterLab not up after {timeout:.0f} s")
                    time.sleep(0.25)
                _mark(marks, "lab answers", started)
                left = lambda: max(1.0, deadline - time.perf_counter()) * 1000  # noqa: E731
                url = f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK}?token={token}&reset"
                page.goto(url, timeout=left())
                page.wait_for_function(_KERNEL_READY_JS, timeout=left(), polling=200)
                _mark(marks, "kernel idle", started)
                page.evaluate(_RUN_TO_DASHBOARD_JS)
                try:
                    page.wait_for_function(
                        f"() => {{ const s = ({_STATE_JS})(); return s.painted || s.errors > 0; }}",
                        timeout=left(),
                        polling=100,
                    )
                finally:
                    state = page.evaluate(_STATE_JS)
                    print(f"  page: {state}", flush=True)
                if state["errors"]:
                    raise RuntimeError("the quickstart failed before its dashboard drew")
                _mark(marks, "dashboard drawn", started)
                if screenshot is not None:
                    page.screenshot(path=str(screenshot), full_page=True)
            except Exception as exc:  # report what was reached, with the CPU spent so far
                error = f"{type(exc).__name__}: {str(exc)[:2000]}"
                if screenshot is not None:
                    with contextlib.suppress(Exception):
                        page.screenshot(path=str(screenshot), full_page=True)
            else:
                error = None
            finally:
                cpu["demo tree"] = tree_cpu_seconds(demo.pid)
                cpu["browser"] = sum(tree_cpu_seconds(p) for p in browser_pids) - browser_before
                load_after = os.getloadavg()[0]
                _stop(demo)
                browser.close()
        record = (
            json.loads((out / "demo.json").read_text()) if (out / "demo.json").is_file() else {}
        )
    for stage in record.get("stages", []) if reuse is None else []:  # a reused demo's are old
        marks[f"{stage['name']} published"] = float(stage.get("ready", float("nan")))
        cpu[f"{stage['name']} train"] = float(stage["seconds"].get("cpu", float("nan")))
    return {
        "error": error,
        "machine": machine_description(),
        "load": (load_before, load_after),
        "marks": dict(sorted(marks.items(), key=lambda item: item[1])),
        "cpu": cpu,
    }


def _is_chromium(pid: int) -> bool:
    try:
        name = Path(f"/proc/{pid}/comm").read_text().strip()
        parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return False
    return name.startswith("chrom") and parent in _own_tree()


def _own_tree() -> set[int]:
    table = _ticks()
    mine, grown = {os.getpid()}, True
    while grown:
        grown = False
        for pid, (parent, _) in table.items():
            if parent in mine and pid not in mine:
                mine.add(pid)
                grown = True
    return mine


def _stop(demo: subprocess.Popen) -> None:
    """Stop the demo's own process group (demo, JupyterLab, kernel, background training)."""
    if demo.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 15)):
        try:
            os.killpg(demo.pid, sig)
        except ProcessLookupError:
            return
        try:
            demo.wait(timeout=wait)
            time.sleep(1)  # let the group's other members go too
            return
        except subprocess.TimeoutExpired:
            continue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=None, help="demo size (default 2000)")
    parser.add_argument("--timeout", type=float, default=1500.0)
    parser.add_argument("--screenshot", type=Path, default=None)
    parser.add_argument(
        "--reuse", type=Path, default=None, help="a built demo to start from (copied; not written)"
    )
    args = parser.parse_args()
    result = measure(args.samples, args.timeout, args.screenshot, args.reuse)
    if result["error"]:
        print(f"NOT MEASURED: {result['error']}")
    print(f"machine: {result['machine']}")
    print(f"load average {result['load'][0]:.1f} before, {result['load'][1]:.1f} at the end")
    for name, seconds in result["marks"].items():
        print(f"  {seconds:6.1f} s  {name}")
    paint = result["marks"].get("dashboard drawn", float("nan"))
    print(
        f"first paint {paint:.0f} s after `erroranalysis demo` started (target ≤ "
        f"{TARGET_SECONDS:.0f} s: {'met' if paint <= TARGET_SECONDS else 'NOT met'}); CPU "
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in result["cpu"].items())
    )


if __name__ == "__main__":
    main()
