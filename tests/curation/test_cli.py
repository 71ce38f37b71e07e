from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from teleforge.cli.curate import curate_app
from teleforge.curation import load_view
from tests.curation.synth import make_dataset, make_spec, mixed_plans, shard_digests

runner = CliRunner()


def _ok(*args: str) -> str:
    res = runner.invoke(curate_app, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res.output


def test_every_curation_command_leaves_raw_shards_byte_identical(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", mixed_plans())
    before = shard_digests(root)
    rules = tmp_path / "r.toml"
    rules.write_text('[[rule]]\nname = "idle"\nwhen = "idle_fraction > 0.4"\n')
    steps = [
        ("metrics", root),
        ("metrics", root),  # idempotent
        ("filter", root, "--name", "f"),
        ("filter", f"{root}:f", "--name", "f2", "--rules", rules, "--reject", "missed_deadlines > 0"),
        ("trim", root, "--name", "t", "--from", "f"),  # the old spelling still works for one release
        ("dedupe", f"{root}:t", "--name", "d"),
        ("split", f"{root}:d", "--name", "s"),
        ("report", f"{root}:d", "--thumbs", "2", "--clusters", "d"),
        ("relabel", root, "0", "--outcome", "failure"),
        ("delete", root, "1"),
        ("restore", root, "1"),
        ("apply", f"{root}:d", "--out", tmp_path / "out"),
        ("merge", root, tmp_path / "out", "--out", tmp_path / "merged"),
        ("views", root),
    ]
    for args in steps:
        _ok(*args)
        assert shard_digests(root) == before, f"`curate {args[0]}` changed a shard"
    assert load_view(root, "f2").parent == "f"
    assert {"s-train", "s-val", "s-test"} <= {p.stem for p in (root / "views").glob("*.json")}


def test_filter_prints_reasons_and_writes_the_view(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", mixed_plans())
    _ok("metrics", root)
    out = _ok("filter", root, "--name", "clean")
    assert "idle=1" in out and "jitter=1" in out
    view = json.loads((root / "views" / "clean.json").read_text())
    assert len(view["rejected"]) == 6
    scores = json.loads(_ok("evaluate", f"{root}:clean", "--json"))
    assert scores["per_kind"]["idle"] == {"labelled": 1, "recall": 1.0, "diagnosed": 1, "precision": 1.0,
                                          "diagnosed_as": {"idle": 1}}
    assert scores["reject_precision"] == 1.0


def test_bad_inputs_exit_nonzero_with_one_clear_line(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", mixed_plans()[:3])
    res = runner.invoke(curate_app, ["filter", str(root)])
    assert res.exit_code == 1 and "curate metrics" in res.output
    _ok("metrics", root)
    res = runner.invoke(curate_app, ["filter", str(root), "--reject", "idel_fraction > 0.4"])
    assert res.exit_code == 1 and "unknown metric 'idel_fraction'" in res.output
    bad = tmp_path / "bad.toml"
    bad.write_text("[[rule]]\nname = 3\nwhen = [")
    res = runner.invoke(curate_app, ["filter", str(root), "--rules", str(bad)])
    assert res.exit_code == 1 and "not valid TOML" in res.output
    other = make_dataset(tmp_path / "other", mixed_plans()[:1], spec=make_spec(robot="other_arm"))
    res = runner.invoke(curate_app, ["merge", str(root), str(other), "--out", str(tmp_path / "m")])
    assert res.exit_code == 1 and "cannot merge" in res.output
    res = runner.invoke(curate_app, ["apply", str(root), "nope", "--out", str(tmp_path / "o")])
    assert res.exit_code == 1 and "no view 'nope'" in res.output


def test_report_is_self_contained_with_counts_rows_and_marks(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", mixed_plans())
    _ok("metrics", root)
    _ok("filter", root, "--name", "f")
    _ok("report", root, "--view", "f", "--out", tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    n = len(mixed_plans())
    assert re.search(rf'id="n-episodes">{n}<', page)
    assert re.search(rf'id="n-kept">{n - 6}<', page)
    assert page.count('class="ep"') == n
    assert len(re.findall(r'<tr class="ep" data-id="\d+" data-keep="0"', page)) == 6
    assert page.count("data:image/jpeg;base64,") >= n
    assert page.count("<svg") >= 2 * 8, "histograms for both tasks"
    assert "src=\"http" not in page and "href=\"http" not in page, "no external assets"
    meta = json.loads(re.search(r'<script id="view-meta" type="application/json">(.*?)</script>', page, re.S).group(1))
    assert meta["format"] == "teleforge.view/1" and len(meta["rejected"]) == 6


_CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_CHROMIUM is None, reason="needs Debian `chromium` (apt-get install -y chromium)")
def test_report_in_headless_chromium_shows_counts_and_marking_exports_a_view(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", mixed_plans())
    _ok("metrics", root)
    _ok("filter", root, "--name", "f")
    _ok("report", root, "--view", "f", "--out", tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    # Drive the page's own code as a reviewer would: untick two kept rows, tick one dropped row.
    harness = """<script>
    const kept = rows().filter(r => r.dataset.keep === '1'), dropped = rows().filter(r => r.dataset.keep === '0');
    for (const tr of [kept[0], kept[1], dropped[0]]) { const c = tr.querySelector('input.keep'); c.click(); }
    document.getElementById('view-name').value = 'mine';
    const pre = document.createElement('pre'); pre.id = 'test-out';
    pre.textContent = JSON.stringify({view: currentView(), kept: document.getElementById('n-kept').textContent,
      expect_dropped: [kept[0].dataset.id, kept[1].dataset.id], expect_kept: dropped[0].dataset.id});
    document.body.appendChild(pre);
    </script></body>"""
    (tmp_path / "h.html").write_text(page.replace("</body>", harness))
    dom = subprocess.run([_CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                          (tmp_path / "h.html").as_uri()], capture_output=True, text=True, timeout=90).stdout
    n = len(mixed_plans())
    assert re.search(rf'id="n-episodes">{n}<', dom)
    out = json.loads(html.unescape(re.search(r'<pre id="test-out">(.*?)</pre>', dom, re.S).group(1)))
    assert out["kept"] == str(n - 6 - 2 + 1), "the kept counter follows the marks"
    view = out["view"]
    assert view["name"] == "mine" and view["format"] == "teleforge.view/1"
    assert {str(i) for i in out["expect_dropped"]} <= set(view["rejected"])
    assert int(out["expect_kept"]) in view["episodes"]
    # The downloaded JSON is a valid view of the dataset.
    (root / "views" / "mine.json").write_text(json.dumps(view))
    assert len(load_view(root, "mine").episodes) == n - 6 - 2 + 1
