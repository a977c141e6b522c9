"""Every benchmark script starts as its docs run it (`python bench/NAME.py`): a folder under
bench/ named like a hippo package (bench/pipelines once) would shadow it on sys.path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

SCRIPTS = sorted((REPO / "bench").glob("*.py"))


def test_no_bench_folder_shadows_a_top_level_package() -> None:
    packages = {"hippo", "hippo_kernels", "kernels", "pipelines", "tests"}
    assert not packages & {p.name for p in (REPO / "bench").iterdir() if p.is_dir()}


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_bench_script_help_runs(script: Path) -> None:
    result = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True,
                            cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


def test_scale_report_sums_the_finished_runs(tmp_path: Path) -> None:
    """bench/scale_report.py on the files of a resumed scale.sh run: the interrupted run's empty
    report is left out (and the sums say so), the others' stage seconds are summed and divided into
    the passages."""
    run = {"strings_embedded": 300, "worker_peak_rss_mb": [200.0], "seconds": {"extract": 10.0, "embed": 20.0}}
    (tmp_path / "index-run1.json").write_text("")
    (tmp_path / "index-run2.json").write_text(json.dumps(run))
    (tmp_path / "index-run3.json").write_text(json.dumps(run | {"seconds": {"extract": 30.0, "embed": 0.0}}))
    (tmp_path / "index-run2.log").write_text(
        "\tElapsed (wall clock) time (h:mm:ss or m:ss): 0:31.00\n\tMaximum resident set size (kbytes): 2097152\n")
    latency = {"p50_ms": 12.0, "p95_ms": 20.0, "stage_ms_mean": {"link": 5.0}}
    (tmp_path / "bench.json").write_text(json.dumps({
        "passages": 800, "index_bytes": 3 * 1024 * 1024, "latency": {"hipporag2": latency}, "peak_rss_mb": 500.0,
        "host": {"cpu_flags": ["avx2"], "igraph_ppr_ms": 1.5, "graph_nodes": 10, "graph_edges": 20}}))
    result = subprocess.run([sys.executable, "bench/scale_report.py", str(tmp_path)], capture_output=True,
                            text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "| index runs (finished / all) | 2 / 3 |" in lines
    assert "| extract | 40.0 s (20 passages/s) |" in lines
    only = " (finished runs only: an interrupted run reports nothing)"
    assert f"| strings embedded{only} | 600 |" in lines
    assert f"| **total**{only} | **60 s (13.3 passages/s)** |" in lines
    assert "| peak RSS, indexing process (largest run) | 2,048 MiB |" in lines
    assert "| `hipporag2` warm p50 / p95 (`hippo bench`) | 12.0 / 20.0 ms (stage means, ms: link 5.0) |" in lines


def _cpuid_faulting() -> bool:
    try:
        return " cpuid_fault" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


@pytest.mark.skipif(not _cpuid_faulting(), reason="bench/avx2_only.sh needs Linux CPUID faulting (flag cpuid_fault)")
def test_avx2_only_hides_avx512_and_keeps_real_faults(tmp_path: Path) -> None:
    """bench/avx2_only.sh: numpy reads CPUID without AVX-512 and `hippo bench` reports the flags the
    libraries dispatch on; a real segmentation fault still kills the process as SIGSEGV."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    probe = ("from numpy._core._multiarray_umath import __cpu_features__ as f; from hippo.bench import cpu_flags; "
             "print(f['AVX512F'], f['AVX2'], ' '.join(cpu_flags()))")
    shown = subprocess.run(["bench/avx2_only.sh", sys.executable, "-c", probe], capture_output=True, text=True,
                           cwd=REPO, env=env, timeout=120)
    assert shown.returncode == 0, shown.stderr
    avx512, avx2, flags = shown.stdout.split(maxsplit=2)
    assert (avx512, avx2) == ("False", "True")
    assert "avx2" in flags.split() and not any(flag.startswith(("avx512", "amx")) for flag in flags.split())
    crash = subprocess.run(["bench/avx2_only.sh", sys.executable, "-c", "import ctypes; ctypes.string_at(0)"],
                           capture_output=True, cwd=REPO, env=env, timeout=120)
    assert crash.returncode == -11
