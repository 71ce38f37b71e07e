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


def _svg_hist(values: list[float], title: str, kept: list[bool] | None = None, bins: int = 20) -> str:
    """A histogram with axes (x: metric value, y: episodes); kept (blue) and dropped (red) stacked."""
    keep = kept if kept is not None else [True] * len(values)
    pairs = [(float(v), k) for v, k in zip(values, keep) if v is not None and math.isfinite(v)]
    w, h, left, bottom, top_pad = 260, 120, 30, 26, 16
    pw, ph = w - left - 6, h - bottom - top_pad
    if not pairs:
        return f'<svg class="hist" width="{w}" height="{h}"><text x="4" y="14">{html.escape(title)}: no data</text></svg>'
    x = np.array([p[0] for p in pairs])
    k = np.array([p[1] for p in pairs], bool)
    lo, hi = float(x.min()), float(x.max())
    rng = (lo, hi if hi > lo else lo + 1)
    ck, edges = np.histogram(x[k], bins=bins, range=rng)
    cd, _ = np.histogram(x[~k], bins=bins, range=rng)
    top = max(1, int((ck + cd).max()))
    bw = pw / bins
    bars = []
    for i, (a, b) in enumerate(zip(ck, cd)):
        hk, hd = a / top * ph, b / top * ph
        x0 = left + i * bw
        tip = f"{edges[i]:.3g}–{edges[i + 1]:.3g}: {a} kept, {b} dropped"
        if a:
            bars.append(f'<rect x="{x0:.1f}" y="{top_pad + ph - hk:.1f}" width="{bw - 1:.1f}" height="{hk:.1f}" fill="#4a7bd0"><title>{tip}</title></rect>')
        if b:
            bars.append(f'<rect x="{x0:.1f}" y="{top_pad + ph - hk - hd:.1f}" width="{bw - 1:.1f}" height="{hd:.1f}" fill="#d0574a"><title>{tip}</title></rect>')
    y0 = top_pad + ph
    axes = (f'<line x1="{left}" y1="{y0}" x2="{left + pw}" y2="{y0}" stroke="#555"/>'
            f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{y0}" stroke="#555"/>'
            f'<text x="{left - 3}" y="{top_pad + 8}" font-size="9" text-anchor="end">{top}</text>'
            f'<text x="{left - 3}" y="{y0}" font-size="9" text-anchor="end">0</text>'
            f'<text x="{left}" y="{y0 + 11}" font-size="9">{lo:.3g}</text>'
            f'<text x="{left + pw / 2:.0f}" y="{y0 + 11}" font-size="9" text-anchor="middle">{(lo + hi) / 2:.3g}</text>'
            f'<text x="{left + pw}" y="{y0 + 11}" font-size="9" text-anchor="end">{hi:.3g}</text>'
            f'<text x="{left + pw / 2:.0f}" y="{h - 2}" font-size="9" text-anchor="middle" fill="#666">{html.escape(title)}</text>'
            f'<text x="8" y="{top_pad + ph / 2:.0f}" font-size="9" fill="#666" transform="rotate(-90 8 {top_pad + ph / 2:.0f})" '
            f'text-anchor="middle">episodes</text>')
    return (f'<svg class="hist" width="{w}" height="{h}" role="img" aria-label="{html.escape(title)} histogram">'
            f'<text x="{left}" y="11" font-size="11" font-weight="600">{html.escape(title)}</text>{"".join(bars)}{axes}</svg>')


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
        keep = [int(r["episode_id"]) in kept for r in rows]
        # learned scores (`teleforge curate score`) are histogrammed beside the rule metrics
        scored = tuple(sorted({k for r in rows for k in r if k.startswith("score_") and not k.endswith("_version")}))
        svgs = "".join(_svg_hist([_num(r.get(m)) for r in rows], m, keep) for m in HIST_METRICS + scored)
        hists.append(f'<section class="task"><h3>{html.escape(task)} ({len(rows)} episodes, {sum(keep)} kept)</h3>{svgs}</section>')

    body_rows = []
    for r in sel.rows:
        eid = int(r["episode_id"])
        imgs = ""
        if thumbs and ds.spec.cameras:
            table = open_shard(root / r["file"])[0]
            for cam in ds.spec.cameras[:2]:  # front + wrist: what the policy sees
                strip = "".join(f'<img class="thumb" src="data:image/jpeg;base64,{_jpeg_b64(t)}" alt="{html.escape(cam.name)}">'
                                for t in thumbnail_strip(table, cam, thumbs, scale=2))
                imgs += f'<div class="cam"><span>{html.escape(cam.name)}</span>{strip}</div>'
        reasons = rejected.get(eid, [])
        why = "".join(_reason_html(x) for x in reasons)
        is_kept = eid in kept
        cells = [("num", eid, eid), ("", r["task"], r["task"]), ("instr", r.get("instruction") or "", r.get("instruction") or ""),
                 ("", r["outcome"], r["outcome"])]
        cells += [("num", r.get(m), _sortval(r.get(m))) for m in _ROW_METRICS]
        tds = "".join(f'<td class="{c}" data-v="{html.escape(str(v))}">{_fmt(x) if c == "num" else html.escape(str(x))}</td>'
                      for c, x, v in cells)
        body_rows.append(
            f'<tr class="ep" data-id="{eid}" data-keep="{int(is_kept)}" data-task="{html.escape(str(r["task"]))}">{tds}'
            f'<td class="strip">{imgs}</td><td class="why" data-v="{html.escape(diagnosis(reasons))}">{why}</td>'
            f'<td data-v="{int(is_kept)}"><label><input type="checkbox" class="keep" {"checked" if is_kept else ""}> keep</label></td></tr>'
        )
    cluster_html = "".join(f"<li>{', '.join(str(i) for i in c)}</li>" for c in clusters) or "<li>none</li>"
    n = len(sel.rows)
    n_success = sum(1 for r in sel.rows if r.get("outcome") == "success")
    meta: dict[str, Any] = {"format": VIEW_FORMAT, "dataset": str(root), "catalog_version": sel.catalog_version,
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


_ROW_METRICS = ("length", "idle_fraction", "action_jerk_rms", "outlier_z")


def _sortval(v: Any) -> str:
    f = _num(v)
    return "" if not math.isfinite(f) else repr(f)


def _reason_html(x: dict[str, Any]) -> str:
    """``rule: threshold expression — measured values`` for one rejection reason."""
    vals = ", ".join(f"{k} = {_fmt(v)}" for k, v in (x.get("values") or {}).items())
    return (f'<span class="reason"><b>{html.escape(str(x.get("rule")))}</b>: <code>{html.escape(str(x.get("when") or ""))}</code>'
            f'{" — " + html.escape(vals) if vals else ""}</span>')


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
tr[data-keep="0"]{{background:#fbe9e9}} .thumb{{height:88px;width:88px;margin-right:2px;image-rendering:pixelated}}
.cam{{white-space:nowrap}} .cam span{{display:inline-block;width:3.2em;font-size:11px;color:#666}}
.why{{max-width:30em;font-size:12px}} .reason{{display:block}} .reason b{{color:#b3261e}} .reason code{{background:#f3f3f3}}
td.num{{text-align:right;font-variant-numeric:tabular-nums}} td.instr{{max-width:16em}}
th{{cursor:pointer;background:#f0f0f0;position:sticky;top:0;text-align:left}} th.asc::after{{content:" \\25B2"}} th.desc::after{{content:" \\25BC"}}
.legend span{{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}}
.task{{display:inline-block;margin:0 1em 1em 0}} .hist{{margin:2px;border:1px solid #eee}}
#summary span{{margin-right:1.5em;font-weight:600}}
</style></head><body>
<h1>{title}</h1>
<div id="summary"><span>episodes: <b id="n-episodes">{n}</b></span><span>success: <b id="n-success">{n_success}</b></span>
<span>tasks: <b id="n-tasks">{n_tasks}</b></span><span>kept: <b id="n-kept">{n_kept}</b></span>
<span>dropped: <b id="n-dropped">{n_dropped}</b></span><span>duplicate clusters: <b id="n-clusters">{n_clusters}</b></span>
<span>view: {view}</span></div>
<h2>Metrics per task</h2>
<p class="legend"><span style="background:#4a7bd0"></span>kept <span style="background:#d0574a"></span>dropped
 (x: the metric's value, y: episodes; hover a bar for its counts)</p>{hists}
<h2>Duplicate clusters (first id is kept)</h2><ul id="clusters">{clusters}</ul>
<h2>Episodes</h2>
<p>View name <input id="view-name" value="reviewed"> <button id="download">Download view JSON</button>
 (save it as <code>views/&lt;name&gt;.json</code> in the dataset)</p>
<p>Click a column header to sort. Reasons show each rule's threshold and the measured value.</p>
<table id="episodes"><thead><tr><th data-type="num">id</th><th>task</th><th>instruction</th><th>outcome</th>
<th data-type="num">steps</th><th data-type="num">idle fraction</th><th data-type="num">jerk RMS</th>
<th data-type="num">outlier z</th><th class="nosort">frames</th><th>why dropped (rule: threshold — value)</th>
<th data-type="num">mark</th></tr></thead><tbody>{rows}</tbody></table>
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
document.addEventListener('change', e => {{ if (e.target.classList.contains('keep')) {{
  e.target.closest('td').dataset.v = e.target.checked ? '1' : '0'; refresh(); }} }});
document.querySelectorAll('#episodes th').forEach((th, col) => th.addEventListener('click', () => {{
  if (th.classList.contains('nosort')) return;
  const asc = !th.classList.contains('asc');
  document.querySelectorAll('#episodes th').forEach(h => h.classList.remove('asc', 'desc'));
  th.classList.add(asc ? 'asc' : 'desc');
  const num = th.dataset.type === 'num', body = document.querySelector('#episodes tbody');
  const key = tr => tr.children[col].dataset.v ?? tr.children[col].textContent;
  const cmp = (a, b) => {{
    const x = key(a), y = key(b);
    if (num) {{ if (x === '' || y === '') return (x === '') - (y === ''); return (parseFloat(x) - parseFloat(y)) * (asc ? 1 : -1); }}
    return x.localeCompare(y) * (asc ? 1 : -1);
  }};
  rows().sort(cmp).forEach(tr => body.appendChild(tr));
}}));
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
