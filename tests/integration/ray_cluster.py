"""A real local Ray cluster for the integration tests, isolated in a loopback-only network.

A head node and a separate worker node process (``ray start --address=<head>``), each with its
own CPUs, so tasks and actors really spread over two raylets and a worker node can be lost.
Ray replaces ``127.0.0.1`` by the machine's interface address, so the nodes and every driver run
inside one network namespace that has only loopback (``unshare --net``, then
``ip link set lo up``); the worker node and the drivers join it with
``nsenter --net=/proc/<head>/ns/net``. Each node runs in its own session
(``start_new_session=True``): a worker node is killed with ``os.killpg`` on its session (raylet,
agents and Ray worker processes together), and the cluster is stopped the same way plus a sweep
of the sessions' processes — never with ``ray stop``, which ends every Ray process on the machine.

The raylet waits a fixed ~15 s for its agents' port files; on a loaded 2-core machine the
agents (each a Python process importing Ray) take longer than that to start, so the head gets
fixed agent ports and a known node id, and the port files are written as soon as the session
folder appears (the agents then bind the same ports).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("ray_driver.py")
GCS_PORT = 6379
ADDRESS = f"127.0.0.1:{GCS_PORT}"
_AGENT_PORTS = {
    "metrics_agent_port": 52365,
    "dashboard_agent_listen_port": 52366,
    "runtime_env_agent_port": 52367,
    "metrics_export_port": 52368,
}
#: The port-file names above, in the order of their ``ray start`` flags.
_AGENT_FLAGS = {
    "metrics_agent_port": "--dashboard-agent-grpc-port",
    "dashboard_agent_listen_port": "--dashboard-agent-listen-port",
    "runtime_env_agent_port": "--runtime-env-agent-port",
    "metrics_export_port": "--metrics-export-port",
}


def usable() -> str | None:
    """Why a cluster cannot be started here (None when it can)."""
    if shutil.which("unshare") is None or shutil.which("nsenter") is None:
        return "unshare/nsenter are missing"
    done = subprocess.run(
        ["unshare", "--net", "sh", "-c", "ip link set lo up"], capture_output=True, text=True
    )
    if done.returncode != 0:
        return f"cannot create a network namespace: {done.stderr.strip()}"
    return None


def _session_pids(session: int) -> list[int]:
    """Pids of every process whose session id is ``session``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == session:
                pids.append(int(entry.name))
    return pids


def process_name(pid: int) -> str:
    """The command line of ``pid`` ('' once it is gone)."""
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def _end_session(process: subprocess.Popen, grace: float = 20.0) -> None:
    """SIGTERM the session led by ``process``, then SIGKILL whatever is left of it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _session_pids(process.pid):
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.5)
    for pid in _session_pids(process.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _session_pids(process.pid):  # zombies being reaped
        time.sleep(0.1)


class RayCluster:
    """A head node and ``worker_cpus`` worker node(s) in their own network namespace.

    Parameters
    ----------
    num_cpus : int
        CPUs of the head node.
    worker_cpus : int
        CPUs of the worker node (0: no worker node).
    object_store_bytes : int
        Object store of each node.
    package : bool
        Whether the nodes can import ``erroranalysis``. False: a cluster without the package —
        the nodes' Python refuses ``import erroranalysis`` (a ``sitecustomize`` on their path;
        the venv's editable install would otherwise find the checkout anyway).
    cgroup : Path, optional
        A cgroup-v1 ``cpuacct`` folder the nodes' processes join (to count their CPU time).
    """

    def __init__(
        self,
        num_cpus: int = 1,
        worker_cpus: int = 1,
        object_store_bytes: int = 100 * 2**20,
        package: bool = True,
        cgroup: Path | None = None,
    ) -> None:
        self.num_cpus = num_cpus
        self.worker_cpus = worker_cpus
        self.object_store_bytes = object_store_bytes
        self.cgroup = cgroup
        # Short: Ray's unix sockets live under it (108-byte path limit).
        self.temp_dir = Path(tempfile.mkdtemp(prefix="ea-ray-", dir="/tmp"))
        self.log = self.temp_dir / "head.log"
        self.process: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self._workers_started = 0
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
            "RAY_USAGE_STATS_ENABLED": "0",
        }
        self.node_env = self.env if package else self._without_package()

    def _without_package(self) -> dict[str, str]:
        """The nodes' environment where ``import erroranalysis`` fails."""
        hide = self.temp_dir / "no-package"
        hide.mkdir(exist_ok=True)
        (hide / "sitecustomize.py").write_text(_NO_PACKAGE)
        return {**self.env, "PYTHONPATH": str(hide)}

    @property
    def nodes(self) -> int:
        """How many nodes the cluster has while every node is up."""
        return 1 + (self.worker_cpus > 0)

    def _node_command(self, head: bool, node_id: str, ports: dict[str, int], cpus: int) -> str:
        ray = Path(sys.executable).with_name("ray")
        parts = [str(ray), "start --block"]
        if head:
            parts += [
                "--head",
                f"--port={GCS_PORT}",
                "--include-dashboard=false",
                "--disable-usage-stats",
                f"--temp-dir={self.temp_dir / 'ray'}",
            ]
        else:
            parts += [f"--address={ADDRESS}"]
        parts += [
            f"--num-cpus={cpus}",
            "--num-gpus=0",
            f"--object-store-memory={self.object_store_bytes}",
            "--node-ip-address=127.0.0.1",
            *(f"{_AGENT_FLAGS[name]}={port}" for name, port in ports.items()),
        ]
        cgroup = f"echo $$ > {self.cgroup}/cgroup.procs && " if self.cgroup else ""
        return f"{cgroup}ip link set lo up && exec {' '.join(parts)}"

    def _write_port_files(self, node_id: str, ports: dict[str, int]) -> bool:
        """Write the agents' port files into the session folder (False: it is not there yet)."""
        sessions = [p for p in (self.temp_dir / "ray").glob("session_2*") if p.is_dir()]
        if not sessions:
            return False
        for name, port in ports.items():
            target = sessions[0] / f"{name}_{node_id}"
            if not target.exists():
                tmp = target.with_suffix(".tmp")
                tmp.write_text(str(port))
                os.replace(tmp, target)
        return True

    def start(self, timeout: float = 300.0) -> None:
        """Start the head, then the worker node; return when both have joined."""
        node_id = os.urandom(28).hex()
        command = self._node_command(True, node_id, _AGENT_PORTS, self.num_cpus)
        env = {**self.node_env, "RAY_OVERRIDE_NODE_ID_FOR_TESTING": node_id}
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                ["unshare", "--net", "sh", "-c", command],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started = time.monotonic()
        written = False
        while time.monotonic() - started < timeout:
            written = written or self._write_port_files(node_id, _AGENT_PORTS)
            if "Ray runtime started" in self.log.read_text(errors="replace"):
                break
            if self.process.poll() is not None:
                self._fail(self.log, f"the Ray head exited ({self.process.returncode})")
            time.sleep(0.2)
        else:
            self._fail(self.log, f"the Ray head did not start within {timeout:.0f} s")
        if self.worker_cpus > 0:
            self.start_worker(timeout=max(60.0, timeout - (time.monotonic() - started)))

    def start_worker(self, timeout: float = 300.0, package: bool = True) -> subprocess.Popen:
        """Start (or restart) the worker node: ``ray start --address=<head>`` in its own session.

        ``package=False``: a node whose Python cannot import ``erroranalysis``.
        """
        assert self.process is not None and self.worker is None
        self._workers_started += 1
        node_id = os.urandom(28).hex()
        # Each worker node gets its own agent ports (a killed node's may still be closing).
        ports = {name: port + 10 * self._workers_started for name, port in _AGENT_PORTS.items()}
        self._write_port_files(node_id, ports)
        log_path = self.temp_dir / f"worker-{self._workers_started}.log"
        command = self._node_command(False, node_id, ports, self.worker_cpus)
        base = self.node_env if package else self._without_package()
        env = {**base, "RAY_OVERRIDE_NODE_ID_FOR_TESTING": node_id}
        with open(log_path, "w") as log:
            self.worker = subprocess.Popen(
                ["nsenter", f"--net=/proc/{self.process.pid}/ns/net", "sh", "-c", command],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if "Ray runtime started" in log_path.read_text(errors="replace"):
                return self.worker
            if self.worker.poll() is not None:
                self._fail(log_path, f"the Ray worker node exited ({self.worker.returncode})")
            time.sleep(0.2)
        self._fail(log_path, f"the Ray worker node did not start within {timeout:.0f} s")
        raise AssertionError  # unreachable

    def kill_worker(self) -> list[int]:
        """SIGKILL every process of the worker node (raylet, agents, Ray workers) at once."""
        if self.worker is None:
            return []
        pids = _session_pids(self.worker.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.worker.pid, signal.SIGKILL)
        for pid in _session_pids(self.worker.pid):  # any that left the process group
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.worker.wait(timeout=10)
        self.worker = None
        return pids

    def worker_pids(self) -> list[int]:
        """The worker node's processes now."""
        return [] if self.worker is None else _session_pids(self.worker.pid)

    def _fail(self, log: Path, message: str) -> None:
        tail = log.read_text(errors="replace")[-3000:]
        self.stop()
        raise RuntimeError(f"{message}:\n{tail}")

    def driver(
        self, spec: dict, timeout: float = 600.0, check: bool = True
    ) -> subprocess.CompletedProcess:
        """Run ``ray_driver.py`` with ``spec`` inside the cluster's network namespace."""
        done = subprocess.run(
            self.driver_command(spec), env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check:
            assert done.returncode == 0, (done.returncode, done.stderr[-4000:])
        return done

    def driver_command(self, spec: dict) -> list[str]:
        """The command line of a driver process for ``spec`` (for ``subprocess.Popen``)."""
        assert self.process is not None
        return [
            "nsenter",
            f"--net=/proc/{self.process.pid}/ns/net",
            sys.executable,
            str(DRIVER),
            json.dumps(spec),
        ]

    def stop(self) -> None:
        """End the worker node, the head and every process of their sessions."""
        # Short grace: on SIGTERM a head drains for up to 30 s, pointless for a throwaway cluster.
        if self.worker is not None:
            _end_session(self.worker, grace=3.0)
            self.worker = None
        if self.process is not None:
            _end_session(self.process, grace=3.0)
            self.process = None
        shutil.rmtree(self.temp_dir, ignore_errors=True)


_NO_PACKAGE = """\
import sys


class _NoErrorAnalysis:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "erroranalysis" or name.startswith("erroranalysis."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NoErrorAnalysis)
"""
