"""Helpers to drive real JupyterLab 4 in headless Chromium (see tests/browser/README.md).

Everything a browser test needs lives here, so a JupyterLab, ipywidgets or plotly upgrade breaks
one place: starting an isolated JupyterLab server, launching Chromium through Playwright, opening
and running a notebook, waiting for plotly figures, clicking plotly points by data coordinates,
box-selecting, and saving screenshots and logs as test artifacts.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = Path(os.environ.get("ERRORANALYSIS_CHROMIUM", "/usr/bin/chromium"))

#: Flags verified in this workplace (no network beyond the registries, no GPU).
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

#: Default viewport: large enough for the whole dashboard without scrolling.
VIEWPORT = {"width": 1600, "height": 1400}

REPO_ROOT = Path(__file__).resolve().parents[2]


class LabError(RuntimeError):
    """JupyterLab or the page did not reach the expected state."""


# --------------------------------------------------------------------------------------------
# artifacts


def artifacts_dir() -> Path:
    """Return (and create) the folder for screenshots, logs and measurements.

    ``$ERRORANALYSIS_TEST_ARTIFACTS`` when set, else ``tests/browser/artifacts`` (gitignored).
    """
    env = os.environ.get("ERRORANALYSIS_TEST_ARTIFACTS")
    path = Path(env) if env else Path(__file__).resolve().parent / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def safe_name(name: str) -> str:
    """Turn a pytest node id or free text into a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:150] or "artifact"


def save_screenshot(page, name: str, full_page: bool = True) -> Path | None:
    """Save a PNG screenshot of ``page`` under :func:`artifacts_dir`; never raises."""
    path = artifacts_dir() / f"{safe_name(name)}.png"
    try:
        page.screenshot(path=str(path), full_page=full_page, timeout=15_000)
    except Exception as exc:  # a screenshot must never hide the real failure
        print(f"[browser] could not save screenshot {path}: {exc!r}", file=sys.stderr)
        return None
    print(f"[browser] screenshot: {path}")
    return path


# --------------------------------------------------------------------------------------------
# the JupyterLab server


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_lab_settings(settings_dir: Path) -> None:
    """Write the two settings files that keep JupyterLab quiet and every cell in the DOM."""
    notif = settings_dir / "@jupyterlab" / "apputils-extension"
    notif.mkdir(parents=True, exist_ok=True)
    (notif / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    tracker = settings_dir / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True, exist_ok=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))


@dataclass
class JupyterLabServer:
    """A running, isolated JupyterLab server (see :func:`start_jupyterlab`)."""

    root: Path
    port: int
    token: str
    process: subprocess.Popen
    log_path: Path
    env: dict = field(repr=False, default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` (e.g. ``/lab/tree/x.ipynb``) with the token."""
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}{path}{sep}token={self.token}"

    def api(self, method: str, path: str, timeout: float = 10.0) -> Any:
        """Call the server's REST API; return the decoded JSON (or None)."""
        req = urllib.request.Request(
            f"{self.base_url}{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def kernels(self) -> list[dict]:
        return self.api("GET", "/api/kernels")

    def shutdown_kernels(self) -> None:
        """Shut every kernel down (frees the CPU between tests)."""
        try:
            for kernel in self.kernels():
                self.api("DELETE", f"/api/kernels/{kernel['id']}", timeout=30)
        except (urllib.error.URLError, OSError) as exc:
            print(f"[browser] could not shut kernels down: {exc!r}", file=sys.stderr)

    def kernel_execute(self, code: str, timeout: float = 30.0) -> str:
        """Run ``code`` in the newest running kernel (e.g. the notebook's) and return its output.

        For diagnostics: read Python-side state of the widgets the page shows.
        """
        import jupyter_client

        files = sorted(
            Path(self.env["JUPYTER_RUNTIME_DIR"]).glob("kernel-*.json"),
            key=lambda p: p.stat().st_mtime,
        )
        if not files:
            return "<no kernel>"
        client = jupyter_client.BlockingKernelClient(connection_file=str(files[-1]))
        client.load_connection_file()
        client.start_channels()
        try:
            reply = client.execute_interactive(
                code, timeout=timeout, store_history=False, output_hook=_collect(out := [])
            )
        finally:
            client.stop_channels()
        return "".join(out) or str(reply["content"].get("status"))

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server by its pid (SIGTERM, then SIGKILL), with its kernels."""
        if self.process.poll() is None:
            self.shutdown_kernels()
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)


def _collect(sink: list):
    def hook(msg):
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            sink.append(content["text"])
        elif kind in ("execute_result", "display_data"):
            sink.append(content["data"].get("text/plain", "") + "\n")
        elif kind == "error":
            sink.append(f"{content['ename']}: {content['evalue']}\n")

    return hook


def start_jupyterlab(
    root: Path, env: dict | None = None, timeout: float = 90.0, python: str | None = None
) -> JupyterLabServer:
    """Start JupyterLab on a free port with a random token, isolated under ``root``.

    Parameters
    ----------
    root : Path
        Temporary directory: the server's root (notebooks go here) and, under ``.jupyter/``,
        its config, runtime, settings and workspaces directories, so the user's own settings
        never leak in.
    env : dict, optional
        Extra environment variables for the server and therefore for its kernels.
    timeout : float
        Seconds to wait for ``/api/status`` to answer 200.
    python : str, optional
        Interpreter whose ``jupyterlab`` to run (default: this one).

    Returns
    -------
    JupyterLabServer
        Stop it with :meth:`JupyterLabServer.stop`.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    jdir = root / ".jupyter"
    dirs = {
        "JUPYTER_CONFIG_DIR": jdir / "config",
        "JUPYTER_RUNTIME_DIR": jdir / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": jdir / "lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": jdir / "lab-workspaces",
    }
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    write_lab_settings(dirs["JUPYTERLAB_SETTINGS_DIR"])

    port = free_port()
    token = secrets.token_hex(16)
    full_env = {**os.environ, **{k: str(v) for k, v in dirs.items()}, **(env or {})}
    # kernels of this server must use the same interpreter (the project's venv)
    python = python or sys.executable
    full_env["PATH"] = f"{Path(python).parent}{os.pathsep}{full_env.get('PATH', '')}"
    full_env.pop("JUPYTER_PATH", None)
    cmd = [
        python,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--port={port}",
        "--port-retries=0",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        "--ServerApp.open_browser=False",
        "--allow-root",
    ]
    log_path = artifacts_dir() / "jupyterlab-server.log"
    with open(log_path, "w") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            cmd,
            cwd=root,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = JupyterLabServer(
        root=root, port=port, token=token, process=proc, log_path=log_path, env=full_env
    )
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise LabError(
                f"JupyterLab exited with code {proc.returncode} before it was ready;"
                f" log {log_path}:\n{server.log_tail()}"
            )
        try:
            server.api("GET", "/api/status", timeout=2)
            return server
        except (urllib.error.URLError, OSError, json.JSONDecodeError):
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise LabError(
                f"JupyterLab did not answer /api/status within {timeout:.0f} s;"
                f" log {log_path}:\n{server.log_tail()}"
            )
        time.sleep(0.25)


# --------------------------------------------------------------------------------------------
# notebooks


def write_notebook(path: Path, cells: list[str]) -> Path:
    """Write a notebook of code ``cells`` with a ``python3`` kernelspec (no kernel dialog)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def copy_notebook(
    src: Path, dest: Path, strip_outputs: bool = True, replace: dict[str, str] | None = None
) -> list[str]:
    """Copy a notebook, clearing outputs and making sure it names the ``python3`` kernel.

    ``replace`` maps source snippets to their replacements (applied in every code cell).
    Returns the snippets that were not found (so the caller can warn).
    """
    import nbformat

    nb = nbformat.read(str(src), as_version=4)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    found = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if strip_outputs:
            cell.outputs = []
            cell.execution_count = None
        for old, new in (replace or {}).items():
            if old in cell.source:
                cell.source = cell.source.replace(old, new)
                found.add(old)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(dest))
    return [old for old in (replace or {}) if old not in found]


# --------------------------------------------------------------------------------------------
# the browser


def launch_chromium(playwright, headless: bool = True):
    """Launch Debian's Chromium through Playwright with the verified flags."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=headless, args=CHROMIUM_ARGS
    )


def attach_console_log(page, sink: list) -> None:
    """Collect the page's console messages and uncaught errors into ``sink``."""
    page.on("console", lambda msg: sink.append(f"[console.{msg.type}] {msg.text}"))
    page.on("pageerror", lambda exc: sink.append(f"[pageerror] {exc}"))


_KERNEL_READY_JS = """() => {
  const app = window.jupyterapp;
  if (!app || !app.started) return false;
  const w = app.shell.currentWidget;
  if (!w || !w.sessionContext || !w.sessionContext.session) return false;
  const k = w.sessionContext.session.kernel;
  return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
}"""


def open_notebook(page, server: JupyterLabServer, relpath: str, timeout: float = 90.0) -> None:
    """Open ``relpath`` (relative to the server root) and wait for a connected, idle kernel.

    The toolbar's idle indicator says idle before any kernel exists and cells run before the
    kernel is connected are silently dropped, so this waits on the kernel object itself.
    """
    page.goto(server.url(f"/lab/tree/{relpath}") + "&reset", timeout=timeout * 1000)
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.started", timeout=timeout * 1000
    )
    page.evaluate("() => window.jupyterapp.started.then(() => true)")
    page.wait_for_function(_KERNEL_READY_JS, timeout=timeout * 1000, polling=200)


def run_all_cells(page) -> None:
    """Run every cell of the current notebook."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")


def wait_all_executed(page, timeout: float = 180.0) -> None:
    """Wait until every code cell's prompt shows ``[n]`` (executed, not ``[*]`` or empty).

    Returns early when a cell failed (run-all stops there; no cell is left running), so the
    caller can report the traceback (see :func:`output_errors`) instead of timing out.
    """
    page.wait_for_function(
        """() => {
          const prompts = [...document.querySelectorAll(
            '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputArea-prompt')];
          if (!prompts.length) return false;
          if (prompts.every(p => /\\[\\d+\\]/.test(p.textContent))) return true;
          const running = prompts.some(p => p.textContent.includes('*'));
          const failed = document.querySelector(
            '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]');
          const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
          return !running && !!failed && k.status === 'idle';
        }""",
        timeout=timeout * 1000,
        polling=250,
    )


def output_errors(page) -> list[str]:
    """Error outputs (``output_type == "error"``) of the current notebook, tracebacks included."""
    errors = page.evaluate(
        """() => {
          const panel = window.jupyterapp.shell.currentWidget;
          const cells = panel && panel.content && panel.content.model
                        ? panel.content.model.cells : null;
          const out = [];
          if (!cells) return out;
          for (let i = 0; i < cells.length; i++) {
            const cell = cells.get(i);
            if (cell.type !== 'code') continue;
            for (let j = 0; j < cell.outputs.length; j++) {
              const o = cell.outputs.get(j).toJSON();
              if (o.output_type === 'error')
                out.push(o.ename + ': ' + o.evalue + '\\n' + (o.traceback || []).join('\\n'));
            }
          }
          return out;
        }"""
    )
    return [re.sub(r"\x1b\[[0-9;]*m", "", e) for e in errors]


def run_notebook(page, server: JupyterLabServer, relpath: str, timeout: float = 180.0) -> None:
    """Open ``relpath``, run all its cells and wait until all have run; fail on tracebacks."""
    open_notebook(page, server, relpath)
    run_all_cells(page)
    wait_all_executed(page, timeout=timeout)
    errors = output_errors(page)
    if errors:
        raise LabError(f"notebook {relpath} failed:\n" + "\n---\n".join(errors)[:6000])


def wait_for_plotly(
    page, selector: str = ".jp-OutputArea-output .js-plotly-plot", count=1, timeout: float = 60.0
):
    """Wait until ``count`` plotly plots matching ``selector`` have drawn; return the locator."""
    page.wait_for_function(
        """([sel, n]) => {
          const plots = [...document.querySelectorAll(sel)];
          return plots.length >= n && plots.slice(0, n).every(
            gd => gd._fullLayout && gd.querySelector('.nsewdrag'));
        }""",
        arg=[selector, count],
        timeout=timeout * 1000,
        polling=200,
    )
    return page.locator(selector)


# --------------------------------------------------------------------------------------------
# plotly interaction

_DATA_TO_PAGE_JS = """(gd, pts) => {
  // data coordinates -> page pixels through plotly's own axes (works for Scattergl, whose
  // points are not in the DOM, for heatmaps and for categorical axes).
  const fl = gd._fullLayout;
  const out = [];
  for (const [x, y, xa, ya] of pts) {
    const xax = fl[xa || 'xaxis'], yax = fl[ya || 'yaxis'];
    const drag = gd.querySelector('.nsewdrag[data-subplot="' + xax._id + yax._id + '"]')
                 || gd.querySelector('.nsewdrag');
    const r = drag.getBoundingClientRect();
    out.push([r.left + xax.d2p(x), r.top + yax.d2p(y)]);
  }
  return out;
}"""


def data_to_page(plot, points: list[tuple]) -> list[tuple[float, float]]:
    """Page pixel positions of data points ``[(x, y[, xaxis, yaxis]), ...]`` in ``plot``.

    ``plot`` is a Playwright locator (or element handle) of a ``.js-plotly-plot`` div.
    """
    pts = [(p[0], p[1], p[2] if len(p) > 2 else None, p[3] if len(p) > 3 else None) for p in points]
    pts = [[_jsonable(a) for a in p] for p in pts]
    return [tuple(xy) for xy in plot.evaluate(_DATA_TO_PAGE_JS, pts)]


def _jsonable(v):
    if hasattr(v, "item"):
        return v.item()
    return v


def hover_at(page, x: float, y: float, hover_ms: int = 60) -> None:
    """Move the mouse onto page position (x, y) in small steps and let plotly's hover settle."""
    page.mouse.move(x - 3, y - 3)
    page.mouse.move(x, y, steps=3)
    if hover_ms:
        page.wait_for_timeout(hover_ms)


def click_at(page, x: float, y: float, hover_ms: int = 60) -> float:
    """Hover at page position (x, y) first, then click there (plotly needs the hover).

    Returns the ``time.perf_counter()`` just before the click was sent (for latencies).
    """
    hover_at(page, x, y, hover_ms)
    t0 = time.perf_counter()
    page.mouse.click(x, y)
    return t0


def click_data_point(page, plot, x, y, xaxis=None, yaxis=None, hover_ms: int = 60) -> float:
    """Click the plotly point or heatmap cell at data coordinates ``(x, y)`` of ``plot``.

    Hovers first (plotly picks the clicked point from its hover data). Returns the
    ``time.perf_counter()`` just before the click was sent.
    """
    ((px, py),) = data_to_page(plot, [(x, y, xaxis, yaxis)])
    return click_at(page, px, py, hover_ms=hover_ms)


def box_select(page, plot, x0, x1, y0, y1) -> None:
    """Box-select the data rectangle [x0, x1] × [y0, y1] with the modebar's select tool."""
    plot.hover()
    plot.locator('.modebar-btn[data-val="select"]').first.click()
    (ax, ay), (bx, by) = data_to_page(plot, [(x0, y0), (x1, y1)])
    page.mouse.move(ax, ay)
    page.mouse.down()
    page.mouse.move((ax + bx) / 2, (ay + by) / 2, steps=5)
    page.mouse.move(bx, by, steps=5)
    page.mouse.up()


def plot_traces(plot) -> list[dict]:
    """The traces of ``plot`` as the browser holds them: type, name, x, y, customdata, ids."""
    return plot.evaluate(
        """gd => gd.data.map((t, i) => ({
              index: i, type: t.type, name: t.name === undefined ? null : t.name,
              x: t.x ? Array.from(t.x) : null, y: t.y ? Array.from(t.y) : null,
              customdata: t.customdata ? Array.from(t.customdata) : null,
              ids: t.ids ? Array.from(t.ids) : null,
              text: t.text && typeof t.text !== 'string' ? Array.from(t.text) : null,
              z: t.type === 'heatmap' && t.z ? Array.from(t.z, r => Array.from(r)) : null,
              xaxis: t.xaxis || 'x', yaxis: t.yaxis || 'y'}))"""
    )


def axis_ranges(plot) -> dict:
    """Current axis ranges and plot-area size in pixels of ``plot``'s main subplot."""
    return plot.evaluate(
        """gd => { const fl = gd._fullLayout;
             return {x: fl.xaxis.range.slice(), y: fl.yaxis.range.slice(),
                     width: fl.xaxis._length, height: fl.yaxis._length,
                     xtype: fl.xaxis.type, ytype: fl.yaxis.type}; }"""
    )


# --------------------------------------------------------------------------------------------
# misc


def chromium_available() -> bool:
    """Whether the Chromium binary the tests drive exists and is executable."""
    return CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)
