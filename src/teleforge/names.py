"""Names that data carries into code, file paths or column names, checked once where they enter.

A camera name, HDF5 key, feature key, dataset or view name, or Hub repo id read from a file
(or typed by a user) ends up in generated Python, in a file name or in a column name. Each is
checked against a strict pattern at import and record time, so nothing downstream has to
escape it -- and generated code still emits data only through ``repr``/``json.dumps``.
"""

from __future__ import annotations

import re

from teleforge.errors import InvalidNameError

# Camera names, feature keys, HDF5 keys, RLDS dataset names: an identifier, 1..64 characters.
KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
# Labels that become one path component (dataset, view, embodiment): also '.', '-', never '..'.
LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
# A Hugging Face repo id: ``owner/name``, each part a LABEL.
REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")

_RULES = {
    KEY: "a letter, then up to 63 letters, digits or '_'",
    LABEL: "a letter or digit, then up to 127 letters, digits, '_', '.' or '-' (no '..')",
    REPO_ID: "OWNER/NAME, each a letter or digit then letters, digits, '_', '.' or '-' (no '..')",
}


def _check(value: object, what: str, pattern: re.Pattern[str]) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value) or ".." in value:
        raise InvalidNameError(f"{what} {value!r} is not allowed: use {_RULES[pattern]}; rename it and try again")
    return value


def check_key(value: object, what: str = "name") -> str:
    """``value`` if it is a KEY (camera, feature, HDF5 key); else ``InvalidNameError`` naming ``what``."""
    return _check(value, what, KEY)


def check_label(value: object, what: str = "name") -> str:
    """``value`` if it is a LABEL (a dataset, view or embodiment name usable as one path component)."""
    return _check(value, what, LABEL)


def check_repo_id(value: object, what: str = "repo id") -> str:
    """``value`` if it is a Hub repo id ``owner/name``."""
    return _check(value, what, REPO_ID)
