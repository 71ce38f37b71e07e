from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.seeds import build_seeds


@pytest.fixture(scope="session")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The fuzz seeds (a native dataset and its five exports), built once per test session."""
    return build_seeds(tmp_path_factory.mktemp("fuzz-seeds"))


@pytest.fixture
def mutated(seeds: dict[str, Path], tmp_path: Path):
    """``mutated(seed, file, op, arg)`` -> a mutated copy of that seed's folder."""
    import shutil

    from tests.fuzz.mutate import apply

    def make(seed: str, file: str, op: str, arg: object) -> Path:
        src_seed = seeds[seed]
        src = tmp_path / "src"
        shutil.copytree(src_seed if src_seed.is_dir() else src_seed.parent, src)
        apply({"seed": seed, "file": file, "op": op, "arg": arg}, src, tmp_path / "outside")
        return src

    return make
