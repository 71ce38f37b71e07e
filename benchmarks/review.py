"""`teleforge review` speed on a 10,000-episode synthetic dataset: prints one JSON line.

- build_s: making the dataset (once; cached in --dir, fsync and per-episode catalog upserts skipped: synthetic data)
- session_load_s: ReviewSession over the catalog (rows, outlier scores, views)
- table_cold_s / table_warm_s: the table as the browser loads it, over HTTP: page, app.js, app.css, summary,
  first page of 50 rows sorted by a metric, and the page's thumbnails of both cameras (cold: thumbnail cache empty)
- table_sorted_filtered_s: one more page request sorted by another metric with a rule-expression filter
- episode_page_s: the episode JSON (series, metric distributions) plus the first frame of every camera
- browser_table_s / browser_episode_s: the same in headless Chromium (navigation to rows shown), when installed

    python benchmarks/review.py [--episodes 10000 --dir /tmp/teleforge-bench/review-10k]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.curation.synth

from tests.curation.synth import EpisodePlan, make_spec, write_episode  # noqa: E402

import teleforge.dataset.writer as writer_mod  # noqa: E402
from teleforge.curation import MetricsConfig, compute_metrics, filter_view, save_view  # noqa: E402
from teleforge.curation.review_data import ReviewSession  # noqa: E402
from teleforge.dataset import create_dataset  # noqa: E402
from teleforge.dataset.catalog import read_catalog, rebuild_catalog  # noqa: E402
from teleforge.workflows.review import ReviewServer  # noqa: E402

TASKS = ("pick_cube", "place_in_bin", "push_to_target", "stack")


def plan(i: int) -> EpisodePlan:
    k = i % 50  # a realistic mix: most clean, some idle, jittery, failed or overshooting
    return EpisodePlan(task=TASKS[i % 4], seed=i, steps=40, idle_head=i % 3, idle_tail=i % 5,
                       idle_pause=30 if k == 7 else 0, jitter=0.8 if k == 11 else 0.0,
                       outcome="failure" if k in (3, 29) else "success", overshoot_m=0.08 if k == 17 else 0.0,
                       extras={"operator": f"op{i % 7}"})


def build(root: Path, n: int) -> float:
    t0 = time.perf_counter()
    spec = make_spec(("front", "wrist"), 32)
    create_dataset(root, spec)
    # Synthetic data: skip the per-episode catalog upsert (O(n^2) over 10k) and fsync; rebuild the catalog once.
    real_upsert, real_fsync = writer_mod.upsert_rows, os.fsync
    writer_mod.upsert_rows = lambda *a, **k: None  # type: ignore[assignment]
    os.fsync = lambda fd: None  # type: ignore[assignment]
    try:
        for i in range(n):
            write_episode(root, spec, plan(i))
    finally:
        writer_mod.upsert_rows, os.fsync = real_upsert, real_fsync
    rebuild_catalog(root)
    compute_metrics(root, MetricsConfig())
    save_view(root, filter_view(root, "filtered"))
    (root / ".bench-complete").write_text(str(n))
    return time.perf_counter() - t0


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.read()


def table_load(srv: ReviewServer, sort: str, where: str = "") -> float:
    base, tok = f"http://127.0.0.1:{srv.port}", srv.token
    t0 = time.perf_counter()
    for p in ("/", "/static/app.js", "/static/app.css", "/api/summary"):
        get(f"{base}{p}?token={tok}")
    q = urllib.parse.urlencode({"token": tok, "sort": sort, "desc": 1, "limit": 50, "offset": 0, "where": where})
    rows = json.loads(get(f"{base}/api/episodes?{q}"))["rows"]
    urls = [f"{base}/api/thumb/{r['episode_id']}/{cam}?token={tok}" for r in rows for cam in ("front", "wrist")]
    with ThreadPoolExecutor(6) as pool:  # a browser fetches about six at a time
        list(pool.map(get, urls))
    return time.perf_counter() - t0


def episode_page(srv: ReviewServer, eid: int) -> float:
    base, tok = f"http://127.0.0.1:{srv.port}", srv.token
    t0 = time.perf_counter()
    ep = json.loads(get(f"{base}/api/episode/{eid}?token={tok}"))
    for cam in ep["cameras"]:
        get(f"{base}/api/frame/{eid}/{cam}/0?token={tok}")
    return time.perf_counter() - t0


def browser_times(srv: ReviewServer) -> dict[str, float]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
    except ImportError:
        return {}
    if not (chromium and driver):
        return {}
    opts = webdriver.ChromeOptions()
    for f in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1500,1000"):
        opts.add_argument(f)
    prof = tempfile.mkdtemp()
    opts.add_argument(f"--user-data-dir={prof}")
    opts.binary_location = chromium
    drv = webdriver.Chrome(options=opts, service=Service(driver))
    try:
        def until(cond: object) -> None:
            while not cond():  # type: ignore[operator]
                time.sleep(0.01)
        t0 = time.perf_counter()
        drv.get(srv.url)
        until(lambda: len(drv.find_elements(By.CSS_SELECTOR, "#rows tr")) == 50)
        until(lambda: drv.execute_script("return [...document.querySelectorAll('#rows img.thumb')].slice(0, 12)"
                                         ".every(i => i.complete && i.naturalWidth > 0)"))
        table = time.perf_counter() - t0
        t0 = time.perf_counter()
        row = drv.find_elements(By.CSS_SELECTOR, "#rows tr")[10]
        eid = int(row.get_attribute("data-id"))
        row.click()
        until(lambda: drv.find_element(By.TAG_NAME, "body").get_attribute("data-episode") == str(eid))
        until(lambda: drv.execute_script("return [...document.querySelectorAll('#cams img')].every(i => i.complete && i.naturalWidth > 0)"))
        return {"browser_table_s": round(table, 3), "browser_episode_s": round(time.perf_counter() - t0, 3)}
    finally:
        drv.quit()
        shutil.rmtree(prof, ignore_errors=True)


def main() -> None:
    import urllib.parse  # noqa: F401

    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=10_000)
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "teleforge-bench" / "review-10k")
    a = ap.parse_args()
    root = a.dir
    build_s = None
    if not (root / ".bench-complete").is_file() or int((root / ".bench-complete").read_text()) != a.episodes:
        shutil.rmtree(root, ignore_errors=True)
        root.parent.mkdir(parents=True, exist_ok=True)
        build_s = round(build(root, a.episodes), 1)
    shutil.rmtree(root / ".cache", ignore_errors=True)
    shutil.rmtree(root / "views" / "bench-review.json", ignore_errors=True)
    t0 = time.perf_counter()
    session = ReviewSession(root, "filtered", name="bench-review", who="bench")
    load = time.perf_counter() - t0
    out: dict[str, object] = {"bench": "review", "episodes": read_catalog(root).num_rows, "build_s": build_s,
                              "session_load_s": round(load, 3)}
    with ReviewServer(session) as srv:
        out["table_cold_s"] = round(table_load(srv, "idle_fraction"), 3)
        out["table_warm_s"] = round(table_load(srv, "idle_fraction"), 3)
        out["table_sorted_filtered_s"] = round(table_load(srv, "action_jerk_rms", 'outcome == "success" and idle_fraction < 0.2'), 3)
        out["episode_page_s"] = round(episode_page(srv, session.order[len(session.order) // 2]), 3)
        out.update(browser_times(srv))
    out["table_ok"] = max(float(out["table_cold_s"]), float(out.get("browser_table_s", 0))) < 2.0  # type: ignore[arg-type]
    out["episode_ok"] = max(float(out["episode_page_s"]), float(out.get("browser_episode_s", 0))) < 1.0  # type: ignore[arg-type]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
