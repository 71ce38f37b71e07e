"""One named regression test per bad input of issue 11's "Bad input" paragraph.

Each failed before its fix (a traceback, a MemoryError, or a silently accepted value) and
now ends in a typed one-line error naming the file and the field.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from teleforge.errors import CorruptRecordError, CorruptShardError, DatasetError, ExportError, ImportFormatError, ViewError

Mutated = Callable[[str, str, str, object], Path]


def _read_all(root: Path) -> None:
    from teleforge.dataset.reader import Dataset

    ds = Dataset.open(root)
    for ep in ds:
        for cam in ds.spec.camera_names:
            list(ep.images(cam))


def test_corrupt_jpeg_frame_names_episode_step_and_camera(mutated: Mutated) -> None:
    root = mutated("native", "episodes/ep-000001.arrow", "shard.nojpeg", ["truncated"])
    with pytest.raises(CorruptShardError, match=r"ep-000001\.arrow: episode 1, step \d+, camera 'front': .*JPEG"):
        _read_all(root)


def test_corrupt_jpeg_frame_is_typed_in_step_access_too(mutated: Mutated) -> None:
    from teleforge.dataset.reader import Dataset

    root = mutated("native", "episodes/ep-000000.arrow", "shard.nojpeg", ["garbage"])
    with pytest.raises(CorruptShardError, match="camera 'front'"):
        list(Dataset.open(root).episode(0).steps())


@pytest.mark.parametrize("length", [2**40, 2**63 - 1])
def test_tfrecord_length_header_beyond_the_file_is_a_typed_error_not_a_memory_error(mutated: Mutated, length: int) -> None:
    from teleforge.convert.rlds.tfrecord import read_records

    shard = "teleforge_dataset/1.0.0/teleforge_dataset-train.tfrecord-00000-of-00001"
    root = mutated("rlds", shard, "tfr.length", length)
    with pytest.raises(CorruptRecordError, match=rf"tfrecord-00000-of-00001: record 0 .*declares {length} data bytes"):
        list(read_records(root / shard))


def test_rlds_import_with_a_crafted_length_header_is_a_typed_error(mutated: Mutated, tmp_path: Path) -> None:
    from teleforge.convert.rlds.importer import import_rlds

    shard = "teleforge_dataset/1.0.0/teleforge_dataset-train.tfrecord-00000-of-00001"
    root = mutated("rlds", shard, "tfr.length", 2**40)
    with pytest.raises(CorruptRecordError, match="record 0"):
        import_rlds(root / "teleforge_dataset", tmp_path / "out")


@pytest.mark.parametrize(("seed", "file", "key"), [
    ("aloha", "episode_1.hdf5", "observations/images/front"),
    ("robomimic", "demo.hdf5", "data/demo_0/obs/front_image"),
])
def test_hdf5_image_dataset_declaring_273_tib_is_refused_before_reading(mutated: Mutated, tmp_path: Path, seed: str,
                                                                        file: str, key: str) -> None:
    from teleforge.convert.hdf5.aloha import import_aloha
    from teleforge.convert.hdf5.robomimic import import_robomimic

    root = mutated(seed, file, "h5.huge", [key])
    importer = import_aloha if seed == "aloha" else import_robomimic
    source = root if seed == "aloha" else root / file
    with pytest.raises(ImportFormatError, match=rf"{file}.*{key.rsplit('/', 1)[-1]}.*GiB\), more than this machine can hold"):
        importer(source, tmp_path / "out")


@pytest.mark.parametrize("fps", [0, "NaN", -1, "inf"])
def test_manifest_fps_zero_nan_or_negative_is_refused(mutated: Mutated, fps: object) -> None:
    from teleforge.dataset.reader import Dataset

    root = mutated("native", "teleforge.json", "json.set", [["fps"], fps])
    with pytest.raises(DatasetError, match=r"teleforge.json: fps .* is not a rate"):
        Dataset.open(root)


@pytest.mark.parametrize("fps", [0, "NaN", -1])
def test_imported_fps_zero_nan_or_negative_is_refused(mutated: Mutated, tmp_path: Path, fps: object) -> None:
    from teleforge.convert.lerobot.importer import import_lerobot

    root = mutated("lerobot", "meta/info.json", "json.set", [["fps"], fps])
    with pytest.raises(ImportFormatError, match=r"info.json: fps .* is not a rate"):
        import_lerobot(root, tmp_path / "out")


def test_shard_outcome_bogus_is_refused(mutated: Mutated) -> None:
    root = mutated("native", "episodes/ep-000000.arrow", "shard.meta", ["end", "outcome", "bogus"])
    with pytest.raises(CorruptShardError, match=r"ep-000000.arrow: outcome 'bogus' is not one of success, failure, unknown"):
        _read_all(root)


def test_catalog_outcome_bogus_is_refused(mutated: Mutated) -> None:
    from teleforge.dataset.reader import Dataset

    root = mutated("native", "catalog.parquet", "pq.str", ["outcome", "bogus"])
    with pytest.raises(DatasetError, match=r"catalog.parquet: episode 0 has outcome 'bogus'"):
        Dataset.open(root).episodes


def test_negative_num_steps_is_refused_in_the_shard_and_the_catalog(mutated: Mutated, tmp_path: Path) -> None:
    from teleforge.dataset.reader import Dataset

    root = mutated("native", "episodes/ep-000001.arrow", "shard.meta", ["end", "num_steps", -1])
    with pytest.raises(CorruptShardError, match=r"ep-000001.arrow: .*-1"):
        _read_all(root)
    import shutil

    shutil.rmtree(tmp_path / "src")
    root = mutated("native", "catalog.parquet", "pq.num", ["num_steps", -1])
    with pytest.raises(DatasetError, match=r"catalog.parquet: episode 0 has num_steps -1"):
        Dataset.open(root).episodes


def test_manifest_without_cameras_is_refused_not_exported_with_zero_videos(mutated: Mutated, tmp_path: Path) -> None:
    from teleforge.convert.lerobot.writer import export_lerobot
    from teleforge.dataset.selection import select

    root = mutated("native", "teleforge.json", "json.drop", ["cameras"])
    with pytest.raises(DatasetError, match=r"teleforge.json: 'cameras' is missing"):
        export_lerobot(select(root), tmp_path / "lerobot")
    assert not (tmp_path / "lerobot").exists()


def test_manifest_cameras_that_disagree_with_the_shards_are_refused(mutated: Mutated) -> None:
    """Even a self-consistent teleforge.json (cameras and features both emptied) is checked against the shards."""
    import json

    from teleforge.dataset.reader import Dataset

    root = mutated("native", "teleforge.json", "json.set", [["cameras"], []])
    doc = json.loads((root / "teleforge.json").read_text())
    doc["features"] = {k: v for k, v in doc["features"].items() if not k.startswith("observation.images.")}
    (root / "teleforge.json").write_text(json.dumps(doc))
    with pytest.raises(DatasetError, match=r"ep-000000.arrow was recorded with cameras \['front'\] vs \[\]"):
        Dataset.open(root).episode(0).table


def test_view_with_trims_as_a_list_is_a_view_error(mutated: Mutated) -> None:
    from teleforge.dataset.views import load_view

    root = mutated("native", "views/keep.json", "json.set", [["trims"], [[1, 5]]])
    with pytest.raises(ViewError, match=r"keep.json: 'trims' must be a JSON object, got list"):
        load_view(root, "keep")


def test_export_of_a_view_with_trims_as_a_list_is_a_typed_error(mutated: Mutated) -> None:
    from teleforge.dataset.selection import select

    root = mutated("native", "views/keep.json", "json.set", [["trims"], [[1, 5]]])
    with pytest.raises(ExportError, match="trims"):
        select(root, view="keep")


def test_lerobot_data_path_outside_the_folder_is_refused(mutated: Mutated, tmp_path: Path) -> None:
    from teleforge.convert.lerobot.importer import import_lerobot

    tpl = "../outside/data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    root = mutated("lerobot", "meta/info.json", "json.set", [["data_path"], tpl])
    assert (tmp_path / "outside" / "data").is_dir()  # a valid copy is there: only confinement stops the read
    with pytest.raises(ImportFormatError, match=r"info.json: data_path .* is not a relative path template"):
        import_lerobot(root, tmp_path / "out")


def test_lerobot_video_path_outside_the_folder_is_refused(mutated: Mutated, tmp_path: Path) -> None:
    from teleforge.convert.lerobot.importer import import_lerobot

    tpl = "../outside/videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
    root = mutated("lerobot", "meta/info.json", "json.set", [["video_path"], tpl])
    with pytest.raises(ImportFormatError, match="video_path"):
        import_lerobot(root, tmp_path / "out")


def test_lerobot_path_template_with_attribute_access_is_refused(mutated: Mutated, tmp_path: Path) -> None:
    from teleforge.convert.lerobot.importer import import_lerobot

    root = mutated("lerobot", "meta/info.json", "json.set", [["data_path"], "{chunk_index.__class__}"])
    with pytest.raises(ImportFormatError, match="data_path"):
        import_lerobot(root, tmp_path / "out")


def test_rlds_name_with_dotdot_is_refused(mutated: Mutated, tmp_path: Path) -> None:
    from teleforge.convert.rlds.importer import import_rlds

    info = "teleforge_dataset/1.0.0/dataset_info.json"
    root = mutated("rlds", info, "json.set", [["name"], "../../../outside/teleforge_dataset/1.0.0/teleforge_dataset"])
    assert (tmp_path / "outside").is_dir()
    with pytest.raises(ImportFormatError, match=r"dataset_info.json: dataset name .* is not a plain file name"):
        import_rlds(root / "teleforge_dataset", tmp_path / "out")


@pytest.mark.parametrize("file", ["/etc/passwd", "../outside/episodes/ep-000000.arrow"])
def test_catalog_file_outside_the_dataset_is_never_opened(mutated: Mutated, file: str) -> None:
    from teleforge.dataset.reader import Dataset

    root = mutated("native", "catalog.parquet", "pq.str", ["file", file])
    with pytest.raises(DatasetError, match=r"catalog.parquet: episode 0 names file .*, not a shard under episodes/ \(field 'file'\)"):
        Dataset.open(root).episode(0)


def test_missing_shard_is_a_typed_error(mutated: Mutated) -> None:
    root = mutated("native", "episodes/ep-000000.arrow", "bin.delete", 0)
    with pytest.raises(CorruptShardError, match=r"ep-000000.arrow: the shard of episode 0 is missing"):
        _read_all(root)


def test_export_still_running_check_does_not_mistake_a_zombie_for_a_live_writer(tmp_path: Path) -> None:
    import json
    import socket

    from teleforge.convert.staging import _pid_alive, stage_output
    from teleforge.errors import PartialExportError

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        for _ in range(200):  # exited, not reaped: a zombie that still answers kill(pid, 0)
            if Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z":
                break
            time.sleep(0.01)
        else:
            pytest.skip("the child did not become a zombie")
        assert not _pid_alive(child.pid)
        final = tmp_path / "export"
        owner = tmp_path / ".export.partial.json"
        (tmp_path / ".export.partial").mkdir()
        owner.write_text(json.dumps({"pid": child.pid, "host": socket.gethostname(), "started": "then"}))
        stage = stage_output(final, overwrite=True, fmt="rlds")  # a live writer would raise "is writing ... right now"
        stage.abort()
        owner.write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname(), "started": "now"}))
        with pytest.raises(PartialExportError, match="right now"):
            stage_output(final, overwrite=True, fmt="rlds")
    finally:
        child.wait()
