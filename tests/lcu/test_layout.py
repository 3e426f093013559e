"""The one rectangle type's geometry (lcu/layout.py: Rect)."""
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aceplusplus.lcu.layout import Rect


def test_bounding_intersection_and_coordinates():
    hit = torch.zeros(40, 50, dtype=torch.bool)
    assert Rect.bounding(hit) is None
    hit[5:9, 30:41] = True
    hit[12, 33] = True
    box = Rect.bounding(hit)
    assert box == Rect(30, 5, 11, 8) == Rect.spanning(30, 5, 41, 13)
    assert box.grown(6, 40, 50) == Rect.spanning(24, 0, 47, 19)  # clamped at the top edge only
    assert box.intersection(Rect(0, 0, 31, 6)) == Rect(30, 5, 1, 1)
    assert box.intersection(Rect(0, 0, 30, 40)) is None  # touching is not overlapping
    outer = Rect(20, 2, 25, 20)
    assert box.relative_to(outer) == Rect(10, 3, 11, 8) and box.relative_to(outer).placed_in(outer) == box


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 90), st.integers(1, 90), st.integers(1, 30), st.integers(0, 10_000))
def test_clusters_are_apart_tight_and_hold_every_pixel(h, w, gap, seed):
    hit = torch.rand(h, w, generator=torch.Generator().manual_seed(seed)) > 0.995
    boxes = Rect.clusters(hit, gap)
    owned = torch.zeros(h, w, dtype=torch.int32)
    for box in boxes:
        box.slice(owned[None])[...] += 1
        assert Rect.bounding(box.slice(hit[None])[0]).placed_in(box) == box  # tight
    assert bool((owned[hit] == 1).all()) and int(owned.max()) <= 1
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert max(b.x - a.right, a.x - b.right, b.y - a.bottom, a.y - b.bottom) >= gap
    # Only a gap of `gap` empty rows or columns splits: two pixels gap - 1 apart stay one box.
    line = torch.zeros(1, 2 * gap + 2, dtype=torch.bool)
    line[0, 0] = line[0, gap] = True
    assert Rect.clusters(line, gap) == (Rect(0, 0, gap + 1, 1),)
    line[0, gap] = False
    line[0, gap + 1] = True
    assert Rect.clusters(line, gap) == (Rect(0, 0, 1, 1), Rect(gap + 1, 0, 1, 1))
