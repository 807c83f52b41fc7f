"""A real local Ray cluster for the integration tests, isolated in a loopback-only network.

Ray replaces ``127.0.0.1`` by the machine's interface address, so the head node and every driver
run inside one network namespace that has only loopback (``unshare --net``, then
``ip link set lo up``); drivers join it with ``nsenter --net=/proc/<head>/ns/net``. The cluster is
stopped through its own session (``start_new_session=True``, then ``os.killpg`` and a sweep of
the session's processes) — never with ``ray stop``, which ends every Ray process on the machine.

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


class RayCluster:
    """One head node (2 CPUs, a 100 MB object store) in its own network namespace."""

    def __init__(self, num_cpus: int = 2, object_store_bytes: int = 100 * 2**20) -> None:
        self.num_cpus = num_cpus
        self.object_store_bytes = object_store_bytes
        # Short: Ray's unix sockets live under it (108-byte path limit).
        self.temp_dir = Path(tempfile.mkdtemp(prefix="ea-ray-", dir="/tmp"))
        self.log = self.temp_dir / "head.log"
        self.process: subprocess.Popen | None = None
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
            "RAY_USAGE_STATS_ENABLED": "0",
        }

    def start(self, timeout: float = 300.0) -> None:
        ray = Path(sys.executable).with_name("ray")
        node_id = os.urandom(28).hex()
        command = " ".join(
            [
                "ip link set lo up && exec",
                str(ray),
                "start --head --block",
                f"--port={GCS_PORT}",
                f"--num-cpus={self.num_cpus}",
                "--num-gpus=0",
                f"--object-store-memory={self.object_store_bytes}",
                "--include-dashboard=false",
                "--disable-usage-stats",
                "--node-ip-address=127.0.0.1",
                f"--dashboard-agent-grpc-port={_AGENT_PORTS['metrics_agent_port']}",
                f"--dashboard-agent-listen-port={_AGENT_PORTS['dashboard_agent_listen_port']}",
                f"--runtime-env-agent-port={_AGENT_PORTS['runtime_env_agent_port']}",
                f"--metrics-export-port={_AGENT_PORTS['metrics_export_port']}",
                f"--temp-dir={self.temp_dir / 'ray'}",
            ]
        )
        env = {**self.env, "RAY_OVERRIDE_NODE_ID_FOR_TESTING": node_id}
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
            sessions = [p for p in (self.temp_dir / "ray").glob("session_2*") if p.is_dir()]
            if sessions and not written:
                for name, port in _AGENT_PORTS.items():
                    target = sessions[0] / f"{name}_{node_id}"
                    if not target.exists():
                        tmp = target.with_suffix(".tmp")
                        tmp.write_text(str(port))
                        os.replace(tmp, target)
                written = True
            text = self.log.read_text(errors="replace")
            if "Ray runtime started" in text:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        tail = self.log.read_text(errors="replace")[-3000:]
        self.stop()
        raise RuntimeError(f"the Ray head did not start within {timeout:.0f} s:\n{tail}")

    def driver(
        self, spec: dict, timeout: float = 600.0, check: bool = True
    ) -> subprocess.CompletedProcess:
        """Run ``ray_driver.py`` with ``spec`` inside the cluster's network namespace."""
        assert self.process is not None
        done = subprocess.run(
            [
                "nsenter",
                f"--net=/proc/{self.process.pid}/ns/net",
                sys.executable,
                str(DRIVER),
                json.dumps(spec),
            ],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check:
            assert done.returncode == 0, (done.returncode, done.stderr[-4000:])
        return done

    def _session_pids(self) -> list[int]:
        assert self.process is not None
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[3]) == self.process.pid:  # the session id
                    pids.append(int(entry.name))
        return pids

    def stop(self) -> None:
        """End the head and every process of its session (workers included)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self._session_pids():
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=0.5)
        for pid in self._session_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        self.process = None
        shutil.rmtree(self.temp_dir, ignore_errors=True)
