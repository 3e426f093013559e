"""Checks shared by the lcu tests."""


def assert_grid(layout):
    assert layout.canvas_width % 16 == 0 and layout.canvas_height % 16 == 0
    for panel in layout.reference_panels + (layout.target_panel,):
        assert panel.x % 16 == 0 and panel.w % 16 == 0 and panel.w >= 16
        assert panel.y == 0 and panel.h == layout.canvas_height
    assert layout.tokens <= layout.token_budget
    assert layout.target_panel.right == layout.canvas_width
    xs = [p.x for p in layout.reference_panels + (layout.target_panel,)]
    assert xs == sorted(xs) and xs[0] == 0
