"""Every Python example in README.md and docs/ runs, and every image they show exists.

Examples are the fenced ```python blocks; blocks of one page run in order in one
namespace (a page reads like a session). A block whose first line is
``# docs: no-run`` is shown only (e.g. it opens a GUI window).
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *ROOT.glob("docs/**/*.md")])
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


def _blocks(page: Path) -> list[str]:
    return [b for b in BLOCK.findall(page.read_text()) if not b.startswith("# docs: no-run")]


@pytest.mark.parametrize(
    "page", [p for p in PAGES if _blocks(p)], ids=lambda p: str(p.relative_to(ROOT))
)
def test_python_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for number, block in enumerate(_blocks(page), 1):
        try:
            exec(compile(block, f"{page.name} block {number}", "exec"), namespace)
        except Exception as error:  # pragma: no cover - the message is the point
            raise AssertionError(f"{page.name}, example {number} failed: {error!r}") from error


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_referenced_images_exist(page):
    for target in IMAGE.findall(page.read_text()):
        if target.startswith(("http://", "https://")):
            raise AssertionError(f"{page.name} links a remote image {target}: ship it instead")
        assert (page.parent / target).is_file(), f"{page.name} shows missing image {target}"
