"""The machine line printed beside every time."""

from __future__ import annotations

from erroranalysis.machine import machine_description, machine_info


def test_machine_info_names_cpu_extensions_and_torch():
    import torch

    info = machine_info()
    assert info["cores"] >= 1 and info["cpu"]
    assert set(info["extensions"]) <= {"AVX2", "AVX-512", "AVX512-BF16", "AMX"}
    assert info["torch_capability"] == torch.backends.cpu.get_cpu_capability()
    assert info["torch_threads"] == torch.get_num_threads()


def test_description_of_a_recorded_machine():
    recorded = {
        "cpu": "AMD EPYC 7B13",
        "cores": 2,
        "memory_gib": 24.0,
        "extensions": ["AVX2"],
        "torch_capability": "AVX2",
        "torch_threads": 2,
        "python": "3.11.7",
    }
    line = machine_description(recorded)
    assert line == (
        "2 cores, 24 GiB, AMD EPYC 7B13, AVX2, torch CPU capability AVX2, 2 threads, Python 3.11.7"
    )
    without = dict(recorded, extensions=[], torch_capability=None)
    assert "no AVX2/AVX-512/AMX" in machine_description(without)
    assert "torch" not in machine_description(without)
