"""Reference generation on the live server returns exactly the requested size, whatever the size and budget,
and ComfyUI's cache keeps loaded models between runs (the pack never forces a reload)."""
import numpy as np
import pytest
from PIL import Image

from test_workflows import _images, run_workflow  # the same live-server job helpers


def run(live_server, wid, tmp_path, seed, **params):
    """Run a bundled workflow through the headless client; (history entry, saved files)."""
    _, saved = run_workflow(live_server.base_url, wid, _images(tmp_path), tmp_path / f"out{seed}", seed=seed, **params)
    history = live_server.session.get_json("/history")
    entry = max(history.values(), key=lambda e: e["prompt"][0])  # the prompt just run (highest number)
    return entry, saved


# (width, height, token budget): not multiples of 16, and budgets that force the canvas to shrink.
SIZES = [(90, 70, 4096), (136, 200, 4096), (200, 120, 64), (100, 100, 64)]


@pytest.mark.parametrize("wid", ["portrait_generation", "subject_generation"])
@pytest.mark.parametrize("width, height, budget", SIZES)
def test_generation_output_has_exactly_the_requested_size(live_server, tmp_path, wid, width, height, budget):
    # Both workflows build the same canvas from the test images; a distinct (unused for generation) context_margin
    # keeps the canvas node out of ComfyUI's cache, whose history entries carry no preview.
    margin = 8 if wid.startswith("portrait") else 16
    entry, saved = run(live_server, wid, tmp_path, seed=width + height, width=width, height=height,
                       set=[f"11.token_budget={budget}", f"11.context_margin={margin}"])
    assert len(saved) == 1
    image = np.asarray(Image.open(saved[0]).convert("RGB"))
    assert image.shape == (height, width, 3)
    canvas_preview = entry["outputs"]["11"]["images"][0]  # what the model saw: within the budget, on the grid
    preview = Image.open(live_server.layout.temp / canvas_preview["subfolder"] / canvas_preview["filename"])
    assert preview.width % 16 == 0 and preview.height % 16 == 0
    assert (preview.width // 16) * (preview.height // 16) <= budget


def test_loaded_models_come_from_comfyui_cache_on_the_next_run(live_server, tmp_path):
    run(live_server, "fft_editing", tmp_path, seed=1)
    entry, _ = run(live_server, "fft_editing", tmp_path, seed=2)
    cached = {n for name, data in entry["status"]["messages"] if name == "execution_cached" for n in data["nodes"]}
    assert {"1", "3", "4"} <= cached  # ACE++ FFT Loader, text encoder, VAE: not loaded again
    assert "13" not in cached  # the sampler did run again (new seed)
