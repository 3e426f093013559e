"""The node help panel: tooltips on every socket and a help page per node that stays true to the code (its input table,
written by tools/workflows.py build, equal to the schema ComfyUI reports).

ComfyUI's frontend shows `/extensions/<pack>/docs/<NodeId>.md` (the pack's WEB_DIRECTORY is ./web) in its node
help panel and the schema's tooltips next to every input and output. These tests keep both complete (names come
from the schemas ComfyUI reports, never from a list kept here) and keep every `[ACE++] ...` message a page
quotes tied to a message the pack's code can actually raise.
"""
from __future__ import annotations

import ast
import functools
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from harness import PACK_MODULE

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "web" / "docs"
PACK_CODE = sorted((ROOT / "nodes").glob("*.py")) + sorted((ROOT / "lcu").glob("*.py"))
SECTIONS = ("Inputs", "Outputs", "Example", "Common errors")
PACK_PREFIX = "[ACE++] "
# In a quoted message, <lowercase words> stand for a value (a path, a URL, a shape) and … ends the quote early.
PLACEHOLDER = re.compile(r"<[a-z][a-z0-9 _./-]*>")
HOLE = "\x00"


# ----------------------------------------------------------------------------------------------- helpers

def node_infos(comfy) -> dict[str, dict]:
    """What /object_info reports for every node the pack declares (ComfyUI's own V3 -> V1 conversion)."""
    ids = comfy.pack_declared_node_ids()
    assert ids, "the pack declares no nodes"
    return {node_id: comfy.node_class(node_id).GET_NODE_INFO_V1() for node_id in ids}


def input_names(info: dict) -> list[str]:
    return [name for group in ("required", "optional") for name in info["input"].get(group, {})]


def page_sections(text: str) -> dict[str, str]:
    """Body of every `## Heading` of a page, keyed by the heading (an `## Example: ...` counts as Example)."""
    sections: dict[str, str] = {}
    for chunk in re.split(r"^## ", text, flags=re.M)[1:]:
        heading, _, body = chunk.partition("\n")
        key = next((s for s in SECTIONS if heading.strip().lower().startswith(s.lower())), heading.strip())
        sections[key] = body
    return sections


def quoted_messages(section: str) -> list[str]:
    return [m[len(PACK_PREFIX):] for m in re.findall(r"`(\[ACE\+\+\] [^`]+)`", section)]


FORMAT_FIELD = re.compile(r"\{(\w+)\}")


@functools.lru_cache(maxsize=None)
def code_strings() -> tuple[tuple[tuple[str | None, ...], ...], frozenset[str]]:
    """(templates, fragments) of the strings in the pack's code.

    templates: every string the code can build, as literal pieces with None for each f-string or str.format hole. Implicitly
    concatenated literals are one node for Python's parser, so messages split over several source lines come
    out whole. Docstrings are left out, and so are strings with fewer than 4 fixed characters.
    fragments: every literal of 6 characters or more, f-string parts included: the values (model names, node
    names, file names) that the code puts into the holes of its messages.
    """
    templates, fragments = [], set()
    for path in PACK_CODE:
        tree = ast.parse(path.read_text(), filename=str(path))
        inside = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values}
        docstrings = {id(node.value) for node in ast.walk(tree)
                      if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}
        for node in ast.walk(tree):
            if id(node) in docstrings:
                continue
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if len(node.value) >= 6:
                    fragments.add(node.value)
                if id(node) in inside:
                    continue
                # A str.format template ("use {conditioning} with ..."): each {name} is a hole, as in an f-string.
                parts = FORMAT_FIELD.split(node.value)
                pieces = tuple(part if i % 2 == 0 else None for i, part in enumerate(parts) if part or i % 2)
            elif isinstance(node, ast.JoinedStr):
                pieces = tuple(v.value if isinstance(v, ast.Constant) else None for v in node.values)
            else:
                continue
            if sum(len(p) for p in pieces if p) >= 4:
                templates.append(pieces)
    return tuple(templates), frozenset(fragments)


MIN_TEMPLATE_WORDS = 10  # fixed characters each code string must contribute (no chaining of "image", "reference ")


def fixed_characters(message: str) -> tuple[int, int]:
    """(template characters, code characters) of a quoted message; (-1, -1) if the code cannot produce it.

    The message (placeholders turned into holes, cut at its first …) must be one of the code's strings, or
    several of them one after the other (`report + " To use it anyway, ..."`, or clauses joined by "; " and ended by
    a full stop, f"{problem}; {hint}."), the last one possibly cut short,
    each contributing at least MIN_TEMPLATE_WORDS fixed characters. The code's holes may stand for any text (a
    concrete value, or one of the page's placeholders), but a placeholder of the page must fall into a hole of
    the code. Template characters are those of the templates' literal pieces; code characters add the text in
    holes that is itself one of the code's literals (FAMILY_NAMES, a node name, a file name), where the template
    goes on after the hole (nothing confirms what a trailing hole holds).
    """
    text = PLACEHOLDER.sub(HOLE, message.split("…", 1)[0]).rstrip()
    templates, fragments = code_strings()
    found = {}  # start -> ends of the code's literals found in the text there
    for fragment in fragments:
        start = text.find(fragment)
        while start >= 0:
            found.setdefault(start, []).append(start + len(fragment))
            start = text.find(fragment, start + 1)

    @functools.lru_cache(maxsize=None)
    def in_hole(a: int, b: int) -> int:  # the most characters of text[a:b] covered by code literals
        if a >= b or b == len(text):
            return 0
        return max([in_hole(a + 1, b)] + [e - a + in_hole(e, b) for e in found.get(a, ()) if e <= b])

    def better(out: dict, end: int, score: tuple[int, int]) -> None:
        if end not in out or score[1] > out[end][1] or (score[1] == out[end][1] and score[0] > out[end][0]):
            out[end] = score

    @functools.lru_cache(maxsize=None)
    def ends(t: int, piece: int, pos: int) -> dict[int, tuple[int, int]]:
        """{end position: (template chars, code chars)} matching pieces[piece:] of template t from text[pos]."""
        pieces = templates[t]
        if pos == len(text) or piece == len(pieces):  # the page may stop anywhere inside a template
            return {pos: (0, 0)}
        literal = pieces[piece]
        out: dict[int, tuple[int, int]] = {}
        if literal is None:  # a hole: a value (the page's placeholders included) but never a clause or sentence
            stop = min([len(text)] + [i + 1 for i in (text.find("; ", pos), text.find(". ", pos)) if i >= 0])
            for k in range(pos, stop + 1):
                for end, (own, code) in ends(t, piece + 1, k).items():
                    better(out, end, (own, code + in_hole(pos, k)))
            return out
        rest = text[pos:]
        if len(rest) <= len(literal):
            return {len(text): (len(rest), len(rest))} if literal.startswith(rest) else {}
        if not rest.startswith(literal):
            return {}
        n = len(literal)
        return {end: (own + n, code + n) for end, (own, code) in ends(t, piece + 1, pos + n).items()}

    @functools.lru_cache(maxsize=None)
    def from_(pos: int) -> tuple[int, int]:  # the best cover of text[pos:] by templates, one after the other
        if pos == len(text) or text[pos:] == ".":  # a message built of clauses ends with its full stop
            return (0, 0)
        best = (-1, -1)
        if text.startswith("; ", pos):  # clauses joined as "problem; fix" (f"{problem}; {hint}.")
            best = from_(pos + 2)
        for t in range(len(templates)):
            for end, (own, code) in ends(t, 0, pos).items():
                if end == pos or own < MIN_TEMPLATE_WORDS:
                    continue
                rest = from_(end)
                if rest[0] >= 0 and (code + rest[1], own + rest[0]) > (best[1], best[0]):
                    best = (own + rest[0], code + rest[1])
        return best

    return from_(0)


def message_occurs_in_code(message: str) -> bool:
    own, code = fixed_characters(message)
    stated = len(PLACEHOLDER.sub("", message.split("…", 1)[0]))
    # At least 12 characters of the templates' own words, and at least half of what the page states is the
    # code's text: concrete values (file names, sizes) may fill the code's holes, but not most of the message.
    return own >= 12 and code * 2 >= stated


# ----------------------------------------------------------------------------------------------- tests

def test_every_socket_has_a_tooltip_and_every_node_a_description(comfy):
    for node_id, info in node_infos(comfy).items():
        assert (info.get("description") or "").strip(), f"{node_id} has no description"
        for group in ("required", "optional"):
            for name, spec in info["input"].get(group, {}).items():
                options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
                assert (options.get("tooltip") or "").strip(), f"{node_id} input `{name}` has no tooltip"
        tooltips = info.get("output_tooltips") or []
        assert len(tooltips) == len(info["output_name"]), f"{node_id}: output tooltips do not match its outputs"
        for name, tooltip in zip(info["output_name"], tooltips):
            assert (tooltip or "").strip(), f"{node_id} output `{name}` has no tooltip"


def test_every_node_has_a_help_page_documenting_all_its_sockets(comfy):
    infos = node_infos(comfy)
    assert sorted(p.stem for p in DOCS.glob("*.md")) == sorted(infos), "one page per node, named <NodeId>.md"
    for node_id, info in infos.items():
        text = (DOCS / f"{node_id}.md").read_text("utf-8")
        assert text.startswith(f"# {info['display_name']}"), f"{node_id}.md must start with its display name"
        sections = page_sections(text)
        missing = [s for s in SECTIONS if s not in sections]
        assert not missing, f"{node_id}.md has no section {missing}"
        for name in input_names(info):
            assert f"`{name}`" in sections["Inputs"], f"{node_id}.md: input `{name}` is not under Inputs"
        for name in info["output_name"]:
            assert f"`{name}`" in sections["Outputs"], f"{node_id}.md: output `{name}` is not under Outputs"
        assert quoted_messages(sections["Common errors"]), f"{node_id}.md quotes no [ACE++] message"


# The input table between the page's markers (tools/help_tables.py writes it), read back cell by cell.
TABLE_BEGIN, TABLE_END = "<!-- inputs: generated by", "<!-- end of the generated inputs -->"
ROW = re.compile(r"^\| `(?P<name>[a-z_0-9]+)`(?: \((?P<optional>optional)?(?:, )?(?P<advanced>advanced)?\))? \| "
                 r"(?P<type>[A-Z_0-9]+) \| (?P<default>.*?) \| "
                 r"(?P<range>.*?) \| (?P<tooltip>.*) \|$")
NUMERIC_RANGE = re.compile(r"^(?P<min>-?[0-9.e+-]+) to (?P<max>-?[0-9.e+-]+)(?:, step (?P<step>[0-9.e+-]+))?$")


def input_rows(text: str) -> list[dict]:
    assert text.count(TABLE_BEGIN) == 1 and text.count(TABLE_END) == 1, "no generated input table"
    table = text.split(TABLE_BEGIN, 1)[1].split("\n", 1)[1].split(TABLE_END, 1)[0]
    lines = table.strip().splitlines()[2:]
    rows = [ROW.match(line) for line in lines]
    assert all(rows), [line for line, row in zip(lines, rows) if not row]
    return [row.groupdict() for row in rows]


def stated(cell: str, kind: str):
    """A default cell as a value of the input's kind."""
    if kind == "BOOLEAN":
        return {"true": True, "false": False}[cell]
    if kind in ("INT", "FLOAT"):
        return float(cell)
    return cell.strip("`")


def test_every_help_page_lists_every_input_with_the_schemas_default_and_range(comfy):
    """Each help page's input table states, for every input in the schema's order, its type, whether it is
    optional, and the default, range, step, options and tooltip of the schema that ComfyUI reports."""
    for node_id, info in node_infos(comfy).items():
        rows = input_rows((DOCS / f"{node_id}.md").read_text("utf-8"))
        order = info.get("input_order") or {g: list(info["input"].get(g, {})) for g in ("required", "optional")}
        expected = [(name, group) for group in ("required", "optional") for name in order.get(group, [])]
        assert [(r["name"], "optional" if r["optional"] else "required") for r in rows] == expected, node_id
        for row in rows:
            spec = info["input"][("optional" if row["optional"] else "required")][row["name"]]
            opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
            kind = "COMBO" if isinstance(spec[0], list) else spec[0]
            where = f"{node_id}.md `{row['name']}`"
            assert row["type"] == kind, where
            assert " ".join(row["tooltip"].replace("\\|", "|").split()) == " ".join(opts.get("tooltip", "").split()), where
            if "default" in opts:
                assert stated(row["default"], kind) == opts["default"], (where, row["default"], opts["default"])
            else:
                assert row["default"] == "—", where
            if kind in ("INT", "FLOAT"):
                found = NUMERIC_RANGE.match(row["range"])
                assert found, (where, row["range"])
                assert (float(found["min"]), float(found["max"])) == (opts["min"], opts["max"]), (where, row["range"])
                assert float(found["step"] or 1) == opts.get("step", 1), (where, row["range"], opts.get("step"))
            elif kind == "COMBO" and "default" in opts:
                options = spec[0] if isinstance(spec[0], list) else opts["options"]
                assert row["range"] == ", ".join(f"`{o}`" for o in options), (where, row["range"])
            elif kind == "COMBO":  # a file list: what it offers depends on the install
                assert row["range"] == "the model files the server lists", where
            else:
                assert row["range"] == "—", where


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.stem)
def test_quoted_errors_are_messages_the_code_raises(page):
    errors = page_sections(page.read_text("utf-8")).get("Common errors", "")
    for message in quoted_messages(errors):
        assert message_occurs_in_code(message), f"{page.name}: the code raises no message like [ACE++] {message!r}"


def test_the_message_check_rejects_fiction():
    assert message_occurs_in_code("reference generation needs at least one reference image.")
    assert message_occurs_in_code("the canvas mask has a batch of 3 but the image has a batch of 2; give 1 (used for every image) or 2.")
    assert message_occurs_in_code("'x.safetensors' is not in any 'loras' folder (<folders>). Put it there")
    assert not message_occurs_in_code("reference generation needs at least two reference images.")
    assert not message_occurs_in_code("the model is too large for this GPU; use fp8.")
    assert not message_occurs_in_code("the canvas mask has a batch of 3 but the <what> has a batch of 2; give 1 (used for every image) or 2.")  # a placeholder on fixed text
    assert not message_occurs_in_code("the canvas mask has a batch of 3 but the image has a batch of 2; give 1 (used for every image) or 2. Then restart ComfyUI.")
    assert not message_occurs_in_code("the mask is 5x5 but the image is 9x9; reinstall the pack, another aspect "
                                      "ratio; make the mask from this image or resize/crop it to 9x9.")


def test_help_pages_are_served_where_the_frontend_looks(live_server):
    infos = {k: v for k, v in live_server.session.object_info().items() if v.get("python_module") == PACK_MODULE}
    assert infos, "the live server registered no pack nodes"
    for node_id, info in infos.items():
        # The frontend takes the folder from python_module ("custom_nodes.<folder>"); the server serves the
        # pack's WEB_DIRECTORY under /extensions/<folder>/.
        folder = info["python_module"].split(".", 1)[1].split("@", 1)[0]
        url = f"{live_server.base_url}/extensions/{urllib.parse.quote(folder)}/docs/{node_id}.md"
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                status, body = resp.status, resp.read().decode("utf-8")
        except urllib.error.HTTPError as err:
            status, body = err.code, ""
        assert status == 200, f"GET {url} -> HTTP {status}"
        assert body == (DOCS / f"{node_id}.md").read_text("utf-8"), f"{url} is not web/docs/{node_id}.md"
