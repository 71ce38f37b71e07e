"""A fake ``hid`` module that replays recorded byte streams (tests/data/hid/*.bin).

It mimics cython-hidapi: ``enumerate(vid, pid)`` returns info dicts,
``device()`` objects ``open_path`` / ``set_nonblocking`` / ``read(n, timeout_ms)`` /
``close``, and ``read`` raises OSError where the stream marks an unplug.
"""

from __future__ import annotations

import errno
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).parent.parent / "data" / "hid"
ERROR_MARK = 0xFFFF


@dataclass
class Stream:
    vendor_id: int
    product_id: int
    name: str
    records: list[tuple[int, bytes | None]]  # (t_us, report) ; None = read error


def read_stream(path: Path | str) -> Stream:
    raw = Path(path).read_bytes()
    assert raw[:6] == b"TFHID1", f"{path} is not a TFHID1 stream"
    vid, pid, nlen = struct.unpack_from("<HHH", raw, 6)
    off = 12
    name = raw[off : off + nlen].decode()
    off += nlen
    recs: list[tuple[int, bytes | None]] = []
    while off < len(raw):
        t_us, n = struct.unpack_from("<IH", raw, off)
        off += 6
        if n == ERROR_MARK:
            recs.append((t_us, None))
        else:
            recs.append((t_us, raw[off : off + n]))
            off += n
    return Stream(vid, pid, name, recs)


@dataclass
class FakeEntry:
    path: bytes
    stream: Stream
    open_error: OSError | None = None
    unplugged: bool = False


class FakeHidDevice:
    def __init__(self, module: "FakeHid") -> None:
        self._m = module
        self._entry: FakeEntry | None = None
        self._i = 0
        self.nonblocking: int | None = None
        self.closed = False

    def open_path(self, path: bytes) -> None:
        entry = self._m.entries.get(path)
        if entry is None or entry.unplugged:
            raise OSError("open failed")
        if entry.open_error is not None:
            raise entry.open_error
        self._entry = entry
        self._m.opened += 1

    def set_nonblocking(self, v: int) -> int:
        self.nonblocking = v
        return 0

    def read(self, max_length: int, timeout_ms: int = 0) -> list[int]:
        assert self._entry is not None, "read before open"
        recs = self._entry.stream.records
        if self._i >= len(recs):
            self._m.drained.set()
            time.sleep(timeout_ms / 1000.0)
            return []
        _t, rep = recs[self._i]
        self._i += 1
        if rep is None:
            self._entry.unplugged = True  # gone: enumerate stops listing it
            self._m.drained.set()
            raise OSError("read error")
        return list(rep[:max_length])

    def close(self) -> None:
        self.closed = True


class FakeHid:
    """Stands in for the ``hid`` module; ``entries`` maps hidapi path -> stream."""

    def __init__(self, *streams: str | Stream, open_error: OSError | None = None) -> None:
        self.entries: dict[bytes, FakeEntry] = {}
        self.drained = threading.Event()
        self.opened = 0
        for i, s in enumerate(streams):
            st = read_stream(DATA / s) if isinstance(s, str) else s
            path = f"/dev/hidraw-fake{i}".encode()
            self.entries[path] = FakeEntry(path, st, open_error)

    def enumerate(self, vendor_id: int = 0, product_id: int = 0) -> list[dict]:
        out = []
        for e in self.entries.values():
            s = e.stream
            if e.unplugged or (vendor_id and s.vendor_id != vendor_id) or (product_id and s.product_id != product_id):
                continue
            out.append({
                "path": e.path, "vendor_id": s.vendor_id, "product_id": s.product_id,
                "serial_number": "", "release_number": 0x0100, "manufacturer_string": "3Dconnexion",
                "product_string": s.name, "usage_page": 1, "usage": 8, "interface_number": 0,
            })
        return out

    def device(self) -> FakeHidDevice:
        return FakeHidDevice(self)


def permission_error() -> OSError:
    return OSError(errno.EACCES, "Permission denied")
