"""``teleforge curate report``: one self-contained HTML page to review a dataset.

Overview counts, per-task metric histograms (inline SVG), one row per episode
with a thumbnail strip (base64 JPEG), rejection reasons, duplicate clusters, and
keep/drop toggles whose state downloads as a view JSON (``views/<name>.json``).
No external assets: it opens from a file:// URL on an offline machine.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import simplejpeg

from teleforge.curation.image_health import thumbnail_strip
from teleforge.curation.operations import candidates, diagnosis
from teleforge.dataset.reader import Dataset
from teleforge.dataset.shard import open_shard
from teleforge.dataset.views import VIEW_FORMAT, View, load_view

HIST_METRICS = ("length", "duration", "path_length_m", "idle_fraction", "action_jerk_rms", "gripper_toggles",
                "action_saturation_frac", "tick_period_p99_ms")


def _svg_hist(values: list[float], title: str, bins: int = 20) -> str:
    x = np.array([v for v in values if v is not None and math.isfinite(v)], float)
    w, h = 240, 90
    if not x.size:
        return f'<svg class="hist" width="{w}" height="{h}"><text x="4" y="14">{html.escape(title)}: no data</text></svg>'
    lo, hi = float(x.min()), float(x.max())
    counts, _ = np.histogram(x, bins=bins, range=(lo, hi if hi > lo else lo + 1))
    top = max(1, int(counts.max()))
    bw = w / bins
    bars = "".join(
        f'<rect x="{i * bw:.1f}" y="{h - 14 - (c / top) * (h - 30):.1f}" width="{bw - 1:.1f}" '
        f'height="{(c / top) * (h - 30):.1f}" fill="#4a7bd0"><title>{c}</title></rect>'
        for i, c in enumerate(counts)
    )
    return (
        f'<svg class="hist" width="{w}" height="{h}" role="img" aria-label="{html.escape(title)}">'
        f'<text x="2" y="11" font-size="11">{html.escape(title)}</text>{bars}'
        f'<text x="2" y="{h - 2}" font-size="9">{lo:.3g}</text>'
        f'<text x="{w - 2}" y="{h - 2}" font-size="9" text-anchor="end">{hi:.3g}</text></svg>'
    )


def _jpeg_b64(img: np.ndarray) -> str:
    return base64.b64encode(simplejpeg.encode_jpeg(np.ascontiguousarray(img), quality=75, colorspace="RGB")).decode()


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "–" if not math.isfinite(v) else f"{v:.3g}"
    return html.escape(str(v))


def build_report(root: Path | str, view: str | None = None, out: Path | str | None = None, thumbs: int = 6,
                 dedupe: View | None = None) -> Path:
    """Write the review page (default: <root>/report.html) for the dataset or a view's parent selection."""
    root = Path(root)
    ds = Dataset.open(root)
    sel = candidates(root, None)  # every live episode; the view only decides the initial keep/drop marks
    v = load_view(root, view) if view else None
    kept = set(v.episodes) if v else {int(r["episode_id"]) for r in sel.rows}
    rejected = v.rejected if v else {}
    clusters = (dedupe.extra.get("clusters") if dedupe else None) or (v.extra.get("clusters") if v else None) or []
    out = Path(out) if out else root / "report.html"

    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in sel.rows:
        by_task[str(r["task"])].append(r)
    hists = []
    for task, rows in sorted(by_task.items()):
        # learned scores (`teleforge curate score`) are histogrammed beside the rule metrics
        scored = tuple(sorted({k for r in rows for k in r if k.startswith("score_") and not k.endswith("_version")}))
        svgs = "".join(_svg_hist([_num(r.get(m)) for r in rows], m) for m in HIST_METRICS + scored)
        hists.append(f'<section class="task"><h3>{html.escape(task)} ({len(rows)})</h3>{svgs}</section>')

    body_rows = []
    for r in sel.rows:
        eid = int(r["episode_id"])
        imgs = ""
        if thumbs and ds.spec.cameras:
            table = open_shard(root / r["file"])[0]
            cam = ds.spec.cameras[0]
            imgs = "".join(f'<img class="thumb" src="data:image/jpeg;base64,{_jpeg_b64(t)}" alt="step">'
                           for t in thumbnail_strip(table, cam, thumbs))
        reasons = rejected.get(eid, [])
        why = "; ".join(f'{x["rule"]}: {html.escape(json.dumps(x.get("values", {})))}' for x in reasons)
        keep = eid in kept
        body_rows.append(
            f'<tr class="ep" data-id="{eid}" data-keep="{int(keep)}" data-task="{html.escape(str(r["task"]))}">'
            f'<td>{eid}</td><td>{html.escape(str(r["task"]))}</td><td>{html.escape(str(r["outcome"]))}</td>'
            f'<td>{_fmt(r.get("length", r.get("num_steps")))}</td><td>{_fmt(r.get("idle_fraction"))}</td>'
            f'<td>{_fmt(r.get("action_jerk_rms"))}</td><td>{_fmt(r.get("outlier_z"))}</td>'
            f'<td class="strip">{imgs}</td><td class="why"><b>{html.escape(diagnosis(reasons))}</b> {why}</td>'
            f'<td><label><input type="checkbox" class="keep" {"checked" if keep else ""}> keep</label></td></tr>'
        )
    cluster_html = "".join(f"<li>{', '.join(str(i) for i in c)}</li>" for c in clusters) or "<li>none</li>"
    n = len(sel.rows)
    n_success = sum(1 for r in sel.rows if r.get("outcome") == "success")
    meta = {"format": VIEW_FORMAT, "dataset": str(root), "catalog_version": sel.catalog_version,
            "rules": v.rules if v else [], "rules_hash": v.rules_hash if v else "", "parent": v.name if v else None,
            "rejected": {str(k): x for k, x in rejected.items()}}
    n_kept = len(kept & {int(r["episode_id"]) for r in sel.rows})
    meta["trims"] = {str(k): list(t) for k, t in (v.trims.items() if v else [])}
    page = _TEMPLATE.format(
        title=html.escape(f"teleforge curation report: {root.name}"),
        n=n, n_success=n_success, n_tasks=len(by_task), n_kept=n_kept, n_dropped=n - n_kept,
        n_clusters=len(clusters), view=html.escape(v.name if v else "(all episodes)"),
        hists="".join(hists), rows="".join(body_rows), clusters=cluster_html,
        meta=json.dumps(meta).replace("</", "<\\/"),
    )
    out.write_text(page)
    return out


def _num(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:1em;color:#222}} table{{border-collapse:collapse;width:100%}}
td,th{{border-bottom:1px solid #ddd;padding:3px 6px;font-size:13px;vertical-align:middle}}
tr[data-keep="0"]{{background:#fbe9e9}} .thumb{{height:48px;margin-right:2px}} .why{{max-width:28em;font-size:12px}}
.task{{display:inline-block;margin:0 1em 1em 0}} .hist{{margin:2px;border:1px solid #eee}}
#summary span{{margin-right:1.5em;font-weight:600}}
</style></head><body>
<h1>{title}</h1>
<div id="summary"><span>episodes: <b id="n-episodes">{n}</b></span><span>success: <b id="n-success">{n_success}</b></span>
<span>tasks: <b id="n-tasks">{n_tasks}</b></span><span>kept: <b id="n-kept">{n_kept}</b></span>
<span>dropped: <b id="n-dropped">{n_dropped}</b></span><span>duplicate clusters: <b id="n-clusters">{n_clusters}</b></span>
<span>view: {view}</span></div>
<h2>Metrics per task</h2>{hists}
<h2>Duplicate clusters (first id is kept)</h2><ul id="clusters">{clusters}</ul>
<h2>Episodes</h2>
<p>View name <input id="view-name" value="reviewed"> <button id="download">Download view JSON</button>
 (save it as <code>views/&lt;name&gt;.json</code> in the dataset)</p>
<table id="episodes"><thead><tr><th>id</th><th>task</th><th>outcome</th><th>steps</th><th>idle</th><th>jerk</th>
<th>outlier z</th><th>frames</th><th>reasons</th><th>mark</th></tr></thead><tbody>{rows}</tbody></table>
<script id="view-meta" type="application/json">{meta}</script>
<script>
const META = JSON.parse(document.getElementById('view-meta').textContent);
function rows() {{ return Array.from(document.querySelectorAll('tr.ep')); }}
function refresh() {{
  let kept = 0;
  for (const tr of rows()) {{
    const k = tr.querySelector('input.keep').checked;
    tr.dataset.keep = k ? '1' : '0';
    if (k) kept++;
  }}
  document.getElementById('n-kept').textContent = kept;
  document.getElementById('n-dropped').textContent = rows().length - kept;
}}
function currentView() {{
  const name = document.getElementById('view-name').value || 'reviewed';
  const keep = [], rejected = {{}}, trims = {{}};
  for (const tr of rows()) {{
    const id = parseInt(tr.dataset.id, 10);
    if (tr.querySelector('input.keep').checked) {{ keep.push(id); if (META.trims[id]) trims[id] = META.trims[id]; }}
    else rejected[id] = META.rejected[id] || [{{rule: 'manual_review', when: 'dropped in the report', kind: 'review', values: {{}}}}];
  }}
  return {{format: META.format, name: name, episodes: keep, trims: trims, rejected: rejected, rules: META.rules,
          rules_hash: META.rules_hash, parent: META.parent, catalog_version: META.catalog_version,
          operation: 'review', created_at: new Date().toISOString(), extra: {{}}}};
}}
document.addEventListener('change', e => {{ if (e.target.classList.contains('keep')) refresh(); }});
document.getElementById('download').addEventListener('click', () => {{
  const v = currentView();
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([JSON.stringify(v, null, 2)], {{type: 'application/json'}}));
  a.download = v.name + '.json';
  document.body.appendChild(a); a.click(); a.remove();
}});
refresh();
</script></body></html>
"""
