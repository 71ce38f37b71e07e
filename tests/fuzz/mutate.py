"""Mutations of every file type teleforge reads, as plain, JSON-serialisable case dicts.

A case is ``{"seed", "file", "op", "arg"}``: ``file`` is relative to the seed folder, ``op``
names a mutation below and ``arg`` parametrises it. :func:`enumerate_cases` lists every
case for the built seeds; :func:`apply` performs one on a copy of the seed.

Families (the ``op`` prefix): ``bin.*`` (truncation at many offsets, bit flips, overwritten
blocks, appended garbage, empty or deleted file), ``json.*`` (missing and mistyped keys,
NaN / inf / negative / absurd values, hostile names and paths), ``pq.*`` (parquet cells and
columns), ``h5.*`` (HDF5 datasets and attributes, absurd declared sizes), ``tfr.*``
(TFRecord length headers and re-framed, valid-CRC Examples with bad features) and
``shard.*`` (native shards rewritten with bad episode metadata).
"""

from __future__ import annotations

import json
import math
import random
import shutil
import struct
from pathlib import Path
from typing import Any

import numpy as np

# Values a JSON / parquet / HDF5 field is set to. Strings include hostile names and paths.
OUTSIDE = "../outside"  # a sibling of the source copy that holds valid files: reading them is a confinement bug
HOSTILE_STRINGS = [
    "", "../../../../etc/passwd", "/etc/passwd", "bogus", "wrist\", \"x\": print(1), \"z\": \"", "a/b", "x" * 5000,
    "\x00nul", "..", OUTSIDE + "/file",
]
JSON_VALUES: list[Any] = [None, "NaN", "inf", "-inf", -1, 0, 2**40, 2**63, -(2**63), 1e308, True, [], {}, "str", [1, 2]]


def _json_paths(obj: Any, prefix: tuple[Any, ...] = (), depth: int = 0) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    if depth > 5:
        return out
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.append((*prefix, k))
            out += _json_paths(v, (*prefix, k), depth + 1)
    elif isinstance(obj, list) and obj:
        out.append((*prefix, 0))
        out += _json_paths(obj[0], (*prefix, 0), depth + 1)
    return out


def _json_value(name: str) -> Any:
    return {"NaN": math.nan, "inf": math.inf, "-inf": -math.inf}.get(name, name) if isinstance(name, str) else name


def _set_path(doc: Any, path: list[Any], value: Any, delete: bool = False) -> None:
    node = doc
    for k in path[:-1]:
        node = node[k]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value


# --- enumeration ------------------------------------------------------------------------
def _binary_cases(seed: str, file: str, size: int, rng: random.Random) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = [{"op": "bin.empty", "arg": 0}, {"op": "bin.delete", "arg": 0},
                                   {"op": "bin.append", "arg": 64}]
    offsets = sorted({1, 4, 8, 12, 16, 64, size // 4, size // 2, size - 16, size - 4, size - 1} - {0})
    cases += [{"op": "bin.truncate", "arg": o} for o in offsets if 0 < o < size]
    cases += [{"op": "bin.flip", "arg": [rng.randrange(size * 8) for _ in range(rng.choice((1, 1, 3, 16)))]}
              for _ in range(12)]
    cases += [{"op": "bin.block", "arg": [rng.randrange(size), rng.choice((4, 64, 512)), rng.choice((0, 255))]}
              for _ in range(4)]
    return [{"seed": seed, "file": file, **c} for c in cases]


def _json_cases(seed: str, file: str, doc: Any) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = [{"op": "json.replace", "arg": [[], v]} for v in ([], "text", 3)]
    for path in _json_paths(doc):
        p = list(path)
        cases.append({"op": "json.drop", "arg": p})
        for v in JSON_VALUES:
            cases.append({"op": "json.set", "arg": [p, v]})
        for s in HOSTILE_STRINGS:
            cases.append({"op": "json.set", "arg": [p, s]})
    return [{"seed": seed, "file": file, **c} for c in cases]


def _parquet_cases(seed: str, file: str, path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    cases: list[dict[str, Any]] = []
    for name in pq.read_schema(path).names:
        cases.append({"op": "pq.drop", "arg": [name]})
        cases.append({"op": "pq.type", "arg": [name]})
        for v in ("NaN", "inf", -1, 0, 2**40, -(2**62)):
            cases.append({"op": "pq.num", "arg": [name, v]})
        for s in HOSTILE_STRINGS:
            cases.append({"op": "pq.str", "arg": [name, s]})
    return [{"seed": seed, "file": file, **c} for c in cases]


def _h5_cases(seed: str, file: str, path: Path) -> list[dict[str, Any]]:
    import h5py

    cases: list[dict[str, Any]] = []
    with h5py.File(path, "r") as f:
        items: list[tuple[str, Any]] = []
        f.visititems(lambda n, o: items.append((n, o)))
        attr_owners = ["/"] + [n for n, _ in items]
        for name, obj in items:
            cases.append({"op": "h5.drop", "arg": [name]})
            if isinstance(obj, h5py.Dataset):
                cases.append({"op": "h5.shape", "arg": [name]})
                cases.append({"op": "h5.dtype", "arg": [name]})
                if obj.dtype.kind == "f":
                    cases.append({"op": "h5.nan", "arg": [name]})
                if obj.ndim == 4:
                    cases.append({"op": "h5.huge", "arg": [name]})
        for owner in attr_owners:
            obj = f[owner]
            for a in obj.attrs:
                for v in ("NaN", -1, 0, 2**40, "bogus", "../../etc/passwd", "wrist\", \"x\": print(1), \"z\": \"", "{not json"):
                    cases.append({"op": "h5.attr", "arg": [owner, a, v]})
                cases.append({"op": "h5.attrdel", "arg": [owner, a]})
    return [{"seed": seed, "file": file, **c} for c in cases]


def _tfrecord_cases(seed: str, file: str, path: Path) -> list[dict[str, Any]]:
    from teleforge.convert.rlds.example_proto import decode_example
    from teleforge.convert.rlds.tfrecord import read_records

    rec = next(iter(read_records(path)))
    keys = sorted(decode_example(rec))
    cases: list[dict[str, Any]] = [{"op": "tfr.length", "arg": n} for n in (2**40, 2**63 - 1, 10**9, 0)]
    for k in keys:
        for how in ("drop", "short", "nan", "inf", "huge", "hostile", "empty", "kind"):
            cases.append({"op": "tfr.feature", "arg": [k, how]})
    return [{"seed": seed, "file": file, **c} for c in cases]


def _shard_cases(seed: str, file: str, path: Path) -> list[dict[str, Any]]:
    from teleforge.dataset.shard import read_shard

    c = read_shard(path)
    cases: list[dict[str, Any]] = []
    for part, doc in (("start", c.start), ("end", c.end or {})):
        for key in doc:
            cases.append({"op": "shard.meta", "arg": [part, key, "__drop__"]})
            for v in ("NaN", -1, 2**63, "bogus", "../../etc/passwd", [], {}):
                cases.append({"op": "shard.meta", "arg": [part, key, v]})
    cases += [{"op": "shard.nojpeg", "arg": [k]} for k in ("garbage", "truncated", "png")]
    cases.append({"op": "shard.dropcam", "arg": []})
    return [{"seed": seed, "file": file, **c} for c in cases]


def _special_cases(seeds: dict[str, Path]) -> list[dict[str, Any]]:
    """Paths that point out of the source folder at a valid copy (reading it is a confinement bug)."""
    out = [
        {"seed": "native", "file": "catalog.parquet", "op": "pq.str", "arg": ["file", OUTSIDE + "/episodes/ep-000000.arrow"]},
        {"seed": "native", "file": "catalog.parquet", "op": "pq.str", "arg": ["file", "/etc/passwd"]},
        {"seed": "lerobot", "file": "meta/info.json", "op": "json.set",
         "arg": [["data_path"], "../" + OUTSIDE.removeprefix("../") + "/data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"]},
        {"seed": "lerobot", "file": "meta/info.json", "op": "json.set",
         "arg": [["video_path"], "../" + OUTSIDE.removeprefix("../") + "/videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"]},
        {"seed": "lerobot", "file": "meta/info.json", "op": "json.set", "arg": [["data_path"], "{chunk_index.__class__}"]},
        {"seed": "native", "file": "teleforge.json", "op": "json.drop", "arg": ["cameras"]},
        {"seed": "native", "file": "views/keep.json", "op": "json.set", "arg": [["trims"], [[1, 5]]]},
    ]
    name = next(p for p in seed_rel(seeds["rlds"]) if p.endswith("dataset_info.json"))
    out.append({"seed": "rlds", "file": name, "op": "json.set", "arg": [["name"], "../../../outside/teleforge_dataset/1.0.0/teleforge_dataset"]})
    for c in out:
        c["special"] = True
    return out


def seed_rel(path: Path) -> list[str]:
    from tests.fuzz.seeds import seed_files

    return seed_files(path)


def enumerate_cases(seeds: dict[str, Path], rng_seed: int = 0) -> list[dict[str, Any]]:
    """Every mutation case of every seed file (deterministic for a given ``rng_seed``)."""
    rng = random.Random(rng_seed)
    cases: list[dict[str, Any]] = []
    for seed, root in seeds.items():
        folder = root if root.is_dir() else root.parent
        for rel in seed_rel(root) if root.is_dir() else [root.name]:
            p = folder / rel
            if p.name.startswith(".") and seed == "native" and p.parent.name == "episodes":
                continue  # the id counter and lock are not read by readers
            cases += _binary_cases(seed, rel, p.stat().st_size, rng)
            if p.suffix == ".json":
                cases += _json_cases(seed, rel, json.loads(p.read_text()))
            elif p.suffix == ".parquet":
                cases += _parquet_cases(seed, rel, p)
            elif p.suffix == ".hdf5":
                cases += _h5_cases(seed, rel, p)
            elif ".tfrecord-" in p.name:
                cases += _tfrecord_cases(seed, rel, p)
            elif p.suffix == ".arrow" and seed == "native":
                cases += _shard_cases(seed, rel, p)
    cases += _special_cases(seeds)
    for i, c in enumerate(cases):
        c["id"] = i
    return cases


def sample(cases: list[dict[str, Any]], n: int, rng_seed: int = 0) -> list[dict[str, Any]]:
    """``n`` cases spread evenly over (seed, file kind, op) strata; the special cases always come first."""
    rng = random.Random(rng_seed)
    out = [c for c in cases if c.get("special")]
    strata: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for c in cases:
        if not c.get("special"):
            strata.setdefault((c["seed"], Path(c["file"]).suffix, c["op"]), []).append(c)
    for v in strata.values():
        rng.shuffle(v)
    keys = sorted(strata)
    while len(out) < n and any(strata.values()):
        for key in keys:
            if strata[key] and len(out) < n:
                out.append(strata[key].pop())
    return out


# --- application ------------------------------------------------------------------------
def apply(case: dict[str, Any], src: Path, outside: Path) -> None:
    """Apply ``case`` to the seed copy at ``src`` (a folder); ``outside`` is a sibling with valid copies."""
    path = src / case["file"]
    op, arg = case["op"], case["arg"]
    if OUTSIDE in json.dumps(arg) and not outside.exists():
        shutil.copytree(src, outside)  # a valid copy outside the source: confinement is tested, not luck
    if op.startswith("bin."):
        _binary(path, op, arg)
    elif op.startswith("json."):
        doc = json.loads(path.read_text())
        if op == "json.replace":
            doc = arg[1]
        elif op == "json.drop":
            _set_path(doc, arg, None, delete=True)
        else:
            _set_path(doc, arg[0], _json_value(arg[1]))
        path.write_text(json.dumps(doc))
    elif op.startswith("pq."):
        _parquet(path, op, arg)
    elif op.startswith("h5."):
        _h5(path, op, arg)
    elif op.startswith("tfr."):
        _tfrecord(path, op, arg)
    elif op.startswith("shard."):
        _shard(path, op, arg)
    else:
        raise ValueError(op)


def _binary(path: Path, op: str, arg: Any) -> None:
    if op == "bin.delete":
        path.unlink()
        return
    data = bytearray(path.read_bytes())
    if op == "bin.empty":
        data = bytearray()
    elif op == "bin.append":
        data += bytes(random.Random(len(data)).randrange(256) for _ in range(int(arg)))
    elif op == "bin.truncate":
        data = data[: int(arg)]
    elif op == "bin.flip":
        for bit in arg:
            bit %= max(1, len(data) * 8)
            data[bit // 8] ^= 1 << (bit % 8)
    elif op == "bin.block":
        start, n, value = arg
        start %= max(1, len(data))
        data[start:start + n] = bytes([value]) * len(data[start:start + n])
    path.write_bytes(bytes(data))


def _parquet(path: Path, op: str, arg: Any) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    name = arg[0]
    i = table.schema.get_field_index(name)
    col = table.column(name)
    if op == "pq.drop":
        table = table.remove_column(i)
    elif op == "pq.type":
        # strings become ints and numbers become strings
        n = table.num_rows
        new = pa.array([7] * n, pa.int64()) if pa.types.is_string(col.type) or pa.types.is_large_string(col.type) \
            else pa.array(["bogus"] * n, pa.string())
        table = table.set_column(i, name, new)
    elif op == "pq.num":
        v = _json_value(arg[1]) if isinstance(arg[1], str) else arg[1]
        t = col.type
        if pa.types.is_floating(t):
            new = pa.array([float(v)] * table.num_rows, t)
        elif pa.types.is_integer(t) and not isinstance(v, float):
            try:
                new = pa.array([int(v)] * table.num_rows, t)
            except (OverflowError, pa.ArrowInvalid):
                new = pa.array([int(v)] * table.num_rows, pa.int64())
        elif pa.types.is_list(t) or pa.types.is_fixed_size_list(t):
            flat = col.combine_chunks().flatten()
            vals = np.full(len(flat), float(v) if isinstance(v, float) else v,
                           dtype=np.float64 if pa.types.is_floating(flat.type) else np.int64)
            new = pa.FixedSizeListArray.from_arrays(pa.array(vals, flat.type), t.list_size) if pa.types.is_fixed_size_list(t) \
                else pa.ListArray.from_arrays(col.combine_chunks().offsets, pa.array(vals, flat.type))
        else:
            new = pa.array([str(v)] * table.num_rows, pa.string())
        table = table.set_column(i, name, new)
    elif op == "pq.str":
        t = col.type
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            new = pa.array([arg[1]] * table.num_rows, t)
        else:
            new = pa.array([arg[1]] * table.num_rows, pa.string())
        table = table.set_column(i, name, new)
    pq.write_table(table, path)


def _h5(path: Path, op: str, arg: Any) -> None:
    import h5py

    with h5py.File(path, "r+") as f:
        if op == "h5.drop":
            del f[arg[0]]
        elif op in ("h5.shape", "h5.dtype", "h5.nan", "h5.huge"):
            name = arg[0]
            old = f[name]
            data = old[()]
            del f[name]
            if op == "h5.shape":
                f.create_dataset(name, data=np.zeros((3,) if np.ndim(data) != 1 else (len(data) + 3, 2), np.float32))
            elif op == "h5.dtype":
                f.create_dataset(name, data=np.array([b"bogus"] * max(1, len(np.atleast_1d(data)))))
            elif op == "h5.nan":
                arr = np.array(data, np.float64)
                arr.reshape(-1)[: max(1, arr.size // 3)] = np.nan
                f.create_dataset(name, data=arr.astype(data.dtype))
            else:  # an image dataset that declares ~273 TiB (never written: HDF5 allocates lazily)
                t = data.shape[0]
                f.create_dataset(name, shape=(t, 2**22, 2**22, 3), dtype=np.uint8, chunks=(1, 64, 64, 3))
        elif op == "h5.attr":
            owner, key, v = arg
            f[owner].attrs[key] = math.nan if v == "NaN" else v
        elif op == "h5.attrdel":
            del f[arg[0]].attrs[arg[1]]


def _tfrecord(path: Path, op: str, arg: Any) -> None:
    from teleforge.convert.rlds.example_proto import decode_example, encode_example
    from teleforge.convert.rlds.tfrecord import HEADER_BYTES, frame_record, masked_crc32c, read_records

    records = list(read_records(path))
    if op == "tfr.length":
        length = struct.pack("<Q", int(arg))
        header = length + struct.pack("<I", masked_crc32c(length))
        data = path.read_bytes()
        path.write_bytes(header + data[HEADER_BYTES:])
        return
    key, how = arg
    ex = decode_example(records[0])
    v = ex[key]
    if how == "drop":
        del ex[key]
    elif how == "empty":
        ex[key] = [] if isinstance(v, list) else np.asarray(v)[:0]
    elif how == "short":
        ex[key] = v[:-1] if isinstance(v, list) else np.asarray(v)[:-1]
    elif how == "kind":
        ex[key] = [b"bogus"] if not isinstance(v, list) else np.arange(3, dtype=np.int64)
    elif how in ("nan", "inf", "huge"):
        if isinstance(v, list):
            ex[key] = [b"\xff\xd8" + b"\x00" * 10] * len(v) if how == "nan" else v
        else:
            arr = np.array(v)
            if arr.dtype.kind == "f":
                arr[: max(1, arr.size // 2)] = {"nan": np.nan, "inf": np.inf, "huge": -1.58e34}[how]
            else:
                arr[: max(1, arr.size // 2)] = {"nan": -1, "inf": 2**62, "huge": -(2**62)}[how]
            ex[key] = arr
    elif how == "hostile":
        if isinstance(v, list):
            ex[key] = [b"../../../../etc/passwd"] * len(v)
        else:
            ex[key] = np.array(v)
    records[0] = encode_example(ex)
    path.write_bytes(b"".join(frame_record(r) for r in records))


def _shard(path: Path, op: str, arg: Any) -> None:
    import pyarrow as pa

    from teleforge.dataset.schema import META_END, META_START
    from teleforge.dataset.shard import read_shard

    c = read_shard(path)
    start, end = dict(c.start), dict(c.end or {})
    schema = c.schema
    table = pa.Table.from_batches(c.batches, schema=schema)
    if op == "shard.meta":
        part, key, v = arg
        doc = start if part == "start" else end
        if v == "__drop__":
            doc.pop(key, None)
        else:
            doc[key] = _json_value(v) if isinstance(v, str) else v
    elif op == "shard.nan":
        col = arg[0]
        i = schema.get_field_index(col)
        t = schema.field(col).type
        n = table.num_rows
        if pa.types.is_fixed_size_list(t):
            vals = table.column(col).combine_chunks().flatten().to_numpy().copy()
            vals[0] = np.nan
            new = pa.FixedSizeListArray.from_arrays(pa.array(vals, pa.float32()), t.list_size)
        else:
            vals = table.column(col).to_numpy().copy()
            vals[0] = np.nan
            new = pa.array(vals, t)
        table = table.set_column(i, schema.field(col), new)
        del n
    elif op in ("shard.nojpeg", "shard.dropcam"):
        col = next(f.name for f in schema if f.name.startswith("observation.images.") and pa.types.is_binary(f.type))
        i = schema.get_field_index(col)
        if op == "shard.dropcam":
            table = table.remove_column(i)
            schema = table.schema
        else:
            vals = table.column(col).to_pylist()
            k = next(j for j, b in enumerate(vals) if b is not None)
            vals[k] = {"garbage": b"\xff\xd8\xff\xe0garbage" * 4, "truncated": vals[k][: len(vals[k]) // 3],
                       "png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 20}[arg[0]]
            table = table.set_column(i, schema.field(col), pa.array(vals, pa.binary()))
    md = dict(schema.metadata or {})
    md[META_START] = json.dumps(start).encode()
    schema = schema.with_metadata(md)
    table = table.replace_schema_metadata(md)
    # The shard is memory-mapped by read_shard: write a new file and rename it over the old one
    # (truncating a mapped file would SIGBUS this process).
    tmp = path.with_name(path.name + ".fuzz-tmp")
    with pa.OSFile(str(tmp), "wb") as f, pa.ipc.new_stream(f, schema) as w:
        for b in table.to_batches():
            w.write_batch(b)
        w.write_batch(pa.RecordBatch.from_pylist([], schema=schema), custom_metadata={META_END: json.dumps(end).encode()})
    del c, table
    tmp.replace(path)
