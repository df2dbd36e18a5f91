"""The committed leaderboard site in a real browser: headless Chromium opens it from file://.

Skipped where Chromium is absent (``make browser`` installs Debian's package where it can).
"""

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "leaderboards" / "site"
RESULTS = REPO / "leaderboards" / "results"
SCREENSHOTS = REPO / "build" / "browser"  # kept after the run, to look at
CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium is not installed (Debian: apt-get install chromium; "
    "make browser does it where it can)",
)


def chromium(tmp_path: Path, *args: str) -> str:
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # root in CI containers
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class Tables(HTMLParser):
    """The rows of each leaderboard table as the browser left them: cell sort values."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.sorted_by: list[tuple[str, str]] = []
        self.results: set[str] = set()
        self.row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and "board" in (a.get("class") or "").split():
            self.tables.append([])
        elif tag == "th" and a.get("aria-sort"):
            self.sorted_by.append((a["data-key"], a["aria-sort"]))
        elif tag == "tr" and "data-rank" in a and self.tables:
            self.row = [a["data-rank"]]
            self.tables[-1].append(self.row)
        elif tag == "td" and self.row is not None:
            self.row.append(a.get("data-value") or "")
        elif tag == "a" and a.get("class") == "result":
            self.results.add(a["href"].split("results/", 1)[1])


def dom(tmp_path: Path, page: Path, fragment: str = "") -> Tables:
    tables = Tables()
    url = page.as_uri() + fragment
    tables.feed(chromium(tmp_path, "--virtual-time-budget=2000", "--dump-dom", url))
    return tables


def test_every_committed_result_appears_on_a_page(tmp_path: Path) -> None:
    shown: set[str] = set()
    pages = sorted(SITE.glob("*/*.html"))
    assert pages, "no site: run molbench leaderboard --html leaderboards/site"
    for page in pages:
        tables = dom(tmp_path, page)
        assert tables.tables and all(tables.tables), f"{page}: no rows rendered"
        shown |= tables.results
    committed = {p.relative_to(RESULTS).as_posix() for p in RESULTS.rglob("*.json")}
    assert shown == committed


def test_sorting_a_column_reorders_the_rows(tmp_path: Path) -> None:
    page = SITE / "validity" / "random.html"
    by_name = dom(tmp_path, page, "#sort=method")
    ranks = [int(row[0]) for row in by_name.tables[0]]  # as written: rank order, 1..n
    methods = [row[2] for row in by_name.tables[0]]  # cells: rank, method, ...
    assert methods == sorted(methods) and ranks != sorted(ranks)
    assert sorted(ranks) == list(range(1, len(ranks) + 1))  # the same rows, moved
    assert by_name.sorted_by == [("method", "ascending")]
    ranks_desc = dom(tmp_path, page, "#sort=rank:desc")
    assert [int(row[0]) for row in ranks_desc.tables[0]] == sorted(ranks, reverse=True)
    assert ranks_desc.sorted_by == [("rank", "descending")]


def test_screenshot(tmp_path: Path) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "reactions__uspto_15k.png"
    shot.unlink(missing_ok=True)
    page = (SITE / "reactions" / "uspto_15k.html").as_uri() + "#sort=top1:desc"
    chromium(tmp_path, "--window-size=1400,2400", f"--screenshot={shot}", page)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
