"""Offline instruction encoding: a small fixed vocabulary plus hashed buckets for unseen words.

The vocabulary holds every word of the sim's task templates and cube colours; any other
word maps to one of ``n_hash`` buckets by a stable hash (no download, no tokenizer files).
Training replaces a share of known words with random buckets ("word dropout"), so the model
learns that an unfamiliar word carries little signal and leans on the words it knows
(the colour, the verb) — which is what lets it follow a rephrased instruction.
"""

from __future__ import annotations

import re
import zlib

import numpy as np

PAD = 0
_WORD = re.compile(r"[a-z0-9]+")

# Words of the workcell's instructions (robots/tasks.py templates) and colours (robots/scene.py).
COLOURS = ("red", "green", "blue", "yellow", "orange", "purple", "cyan", "magenta", "black", "gray", "grey", "brown", "pink")
BASE_WORDS = (
    "pick up the grab and lift it off table put in bin place into tote drop move push onto white target "
    "slide to marked region circle without picking nudge disc stack on top of cube red green blue yellow "
    "orange purple cyan magenta black gray grey brown pink raise a"
).split()


class InstructionTokenizer:
    """Words -> ids: 0 = pad, 1..V = known words, V+1..V+n_hash = hashed unseen words."""

    def __init__(self, words: list[str] | tuple[str, ...] = BASE_WORDS, n_hash: int = 64, max_len: int = 16) -> None:
        self.words = list(dict.fromkeys(w.lower() for w in words))
        self.index = {w: i + 1 for i, w in enumerate(self.words)}
        self.n_hash = int(n_hash)
        self.max_len = int(max_len)

    @property
    def vocab_size(self) -> int:
        return 1 + len(self.words) + self.n_hash

    def hash_id(self, word: str) -> int:
        return 1 + len(self.words) + zlib.crc32(word.encode()) % self.n_hash

    def encode(self, text: str) -> np.ndarray:
        """(max_len,) int64 ids, padded with 0; words past max_len are dropped."""
        ids = [self.index.get(w) or self.hash_id(w) for w in _WORD.findall(text.lower())][: self.max_len]
        out = np.zeros(self.max_len, np.int64)
        out[: len(ids)] = ids
        return out

    def is_known(self, token_id: int) -> bool:
        return 0 < token_id <= len(self.words)

    def to_dict(self) -> dict:
        return {"words": self.words, "n_hash": self.n_hash, "max_len": self.max_len}

    @classmethod
    def from_dict(cls, d: dict) -> InstructionTokenizer:
        return cls(d["words"], int(d["n_hash"]), int(d["max_len"]))


def word_dropout(ids: np.ndarray, tok: InstructionTokenizer, p: float, rng: np.random.Generator) -> np.ndarray:
    """Replace known words except colours with random hash buckets with probability ``p`` (training only).

    Colours are never dropped: they are the label that says which cube, and dropping them would teach noise.
    """
    ids = ids.copy()
    keep = np.isin(ids, [tok.index[c] for c in COLOURS if c in tok.index])
    hit = (ids > 0) & ~keep & (rng.random(ids.shape) < p)
    ids[hit] = 1 + len(tok.words) + rng.integers(0, tok.n_hash, size=int(hit.sum()))
    return ids
