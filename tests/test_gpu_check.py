"""tools/gpu_check.py made small: its --tiny path runs end to end on this machine's ComfyUI (the suite's core,
CPU) and prints its report. The full-size check needs a GPU and is run by hand on one (docs/BENCHMARKS.md,
"GPU check"); this only keeps the script from rotting as the pack and its workflows change (one budget, one
step, no warm-up: about 50 s of CPU time)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.live
def test_tiny_gpu_check_runs_both_workflows_and_prints_its_report(comfy_root, tmp_path):
    python = os.environ.get("ACEPP_PYTHON") or sys.executable
    out = tmp_path / "out"
    cmd = [python, str(ROOT / "tools" / "gpu_check.py"), "--tiny", "--comfyui", str(comfy_root), "--python", python,
           "--tokens", "64", "--steps", "1", "--no-warmup", "--work", str(tmp_path / "work"), "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT, env=dict(os.environ))
    text = done.stdout
    assert done.returncode == 0, f"exit {done.returncode}\n{text[-4000:]}\n{done.stderr[-4000:]}"
    for wid in ("local_editing", "fft_editing"):
        assert f"[{wid} @ 64 tokens] no exception; canvas 128x128, 64 tokens; output 256x256" in text, text
    assert "FFT model made from the Fill file in place" in text
    for item in ("  dynamic: ", "  s/step: ", "  peak VRAM: ", "  pack pre/post: canvas "):
        assert text.count(item) == 2, (item, text)
    assert "workflow       budget tokens exception  dynamic  s/step" in text
    assert "0 of 2 runs raised; 0 skipped" in text
    report = json.loads((out / "report.json").read_text())
    assert [(r["workflow"], r["tokens"], r.get("error")) for r in report["runs"]] == [
        ("local_editing", 64, None), ("fft_editing", 64, None)]
    assert all(0 < r["pack_seconds"] < r["job_seconds"] and len(r["steps"]) == 1 for r in report["runs"])
    assert (out / "report.txt").read_text() and (out / "comfyui.log").stat().st_size > 0
