"""Hugging Face `datasets` (whichever version this python has) loads an `export hf` folder.

Usage: PY check_hf_datasets.py HF_DIR NATIVE_DATASET
Run it with datasets 3.6 (venv-lerobot21, openpi's lock) and with datasets 4.x (venv-lerobot).
Checks: load_from_disk, the manifest's (teleforge_export.json) feature names equal the columns (both ways),
actions equal to the native reader, one image's PSNR against the native JPEG.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from _common import decode_jpeg, psnr, read_native, run


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("hf")
    p.add_argument("native")
    a = p.parse_args()

    def body(r: dict) -> None:
        import datasets

        r["datasets_version"] = datasets.__version__
        ds = datasets.load_from_disk(a.hf)
        r["rows"], r["columns"] = len(ds), sorted(ds.column_names)
        manifest = json.loads(Path(a.hf, "teleforge_export.json").read_text())
        named = set(manifest.get("features", {}))
        r["manifest_not_in_data"] = sorted(named - set(ds.column_names))
        r["data_not_in_manifest"] = sorted(set(ds.column_names) - named)
        native = read_native(a.native)
        n_act = np.concatenate([e["action"] for e in native])
        act = np.asarray(ds["action"] if "action" in ds.column_names else ds["actions"], dtype=np.float32)
        r["action_max_abs"] = float(np.abs(act - n_act).max())
        n_state = np.concatenate([e["observation.state.ee_pos"] for e in native])
        r["state_max_abs"] = float(np.abs(np.asarray(ds["observation.state.ee_pos"], np.float32) - n_state).max())
        img_cols = [c for c in ds.column_names if isinstance(ds.features[c], datasets.Image)]
        if img_cols:
            c = img_cols[0]
            r["image_psnr_db"] = {c: psnr(np.asarray(ds[0][c].convert("RGB")),
                                          decode_jpeg(native[0][f"observation.images.{c.rsplit('.', 1)[-1]}"][0]))}
        if r["manifest_not_in_data"] or r["data_not_in_manifest"]:
            raise KeyError(f"teleforge_export.json features differ from the data's columns: "
                           f"{r['manifest_not_in_data']} not in the data, {r['data_not_in_manifest']} not in the manifest")
        if r["action_max_abs"] > 1e-6 or r["state_max_abs"] > 1e-6:
            raise ValueError(f"values differ from the native reader: {r['action_max_abs']}, {r['state_max_abs']}")

    run("hf_datasets", body)


if __name__ == "__main__":
    main()
