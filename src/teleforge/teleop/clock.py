"""A fixed-rate clock with absolute deadlines, and the loop statistics it keeps.

Deadlines are ``start + k * period`` on ``time.monotonic_ns`` so a slow tick never
shifts the ones after it (no drift). Waiting is a coarse ``sleep`` followed by a
short spin: ``time.sleep`` alone overshoots by up to a scheduler quantum.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

# Sleep until this close to the deadline, then spin. 1.5 ms covers the typical
# Linux sleep overshoot without burning a core for long.
_SPIN_NS = 1_500_000


@dataclass
class LoopStats:
    """Per-episode timing record: what the control loop actually achieved."""

    period_ns: int
    tick_ns: list[int] = field(default_factory=list)
    late_ns: list[int] = field(default_factory=list)  # tick time minus deadline
    missed: int = 0  # deadlines the loop skipped, or hit more than half a period late
    frame_age_ns: dict[str, list[int]] = field(default_factory=dict)
    work_ns: list[int] = field(default_factory=list)  # tick → end of the loop body (headroom)
    # Recorded steps without a frame from a camera (stalled, unplugged, ended): cam -> steps.
    missing_steps: dict[str, list[int]] = field(default_factory=dict)

    def add_tick(self, tick_ns: int, deadline_ns: int) -> None:
        """Record one tick: when it ran and the deadline it was for (ns)."""
        self.tick_ns.append(tick_ns)
        self.late_ns.append(tick_ns - deadline_ns)

    def add_work(self, ns: int) -> None:
        """Record the control work of one tick (ns)."""
        self.work_ns.append(ns)

    def add_frame_age(self, cam: str, age_ns: int) -> None:
        """Record how old camera ``cam``'s frame was at a tick (ns)."""
        self.frame_age_ns.setdefault(cam, []).append(age_ns)

    def add_missing_frame(self, cam: str, step: int) -> None:
        """Record that step ``step`` was recorded without a frame from camera ``cam``."""
        self.missing_steps.setdefault(cam, []).append(step)

    def summary(self) -> dict[str, float | int | dict[str, float] | dict[str, int] | dict[str, list[list[int]]]]:
        """Milliseconds: period p50/p99, |period error| p99, lateness p99, missed, frame age p99."""
        out: dict[str, float | int | dict[str, float] | dict[str, int] | dict[str, list[list[int]]]] = {
            "target_period_ms": self.period_ns / 1e6,
            "steps": len(self.tick_ns),
            "missed_deadlines": int(self.missed),
        }
        if len(self.tick_ns) >= 2:
            periods = np.diff(np.asarray(self.tick_ns, dtype=np.float64)) / 1e6
            err = np.abs(periods - self.period_ns / 1e6)
            out.update(
                period_p50_ms=float(np.percentile(periods, 50)),
                period_p99_ms=float(np.percentile(periods, 99)),
                period_err_p99_ms=float(np.percentile(err, 99)),
                period_err_max_ms=float(err.max()),
                achieved_hz=float(1e3 / periods.mean()),
            )
        if self.work_ns:
            work = np.asarray(self.work_ns) / 1e6
            out["work_p50_ms"] = float(np.percentile(work, 50))
            out["work_p99_ms"] = float(np.percentile(work, 99))
        if self.late_ns:
            out["late_p99_ms"] = float(np.percentile(np.asarray(self.late_ns) / 1e6, 99))
        out["frame_age_p99_ms"] = {
            cam: float(np.percentile(np.asarray(ages) / 1e6, 99))
            for cam, ages in self.frame_age_ns.items()
            if ages
        }
        if self.missing_steps:
            out["missing_frames"] = {cam: len(steps) for cam, steps in self.missing_steps.items()}
            out["missing_frame_ranges"] = {cam: _ranges(steps) for cam, steps in self.missing_steps.items()}
        return out


def _ranges(steps: list[int]) -> list[list[int]]:
    """Sorted step indices -> [[first, last + 1], ...] runs (half-open)."""
    runs: list[list[int]] = []
    for s in steps:
        if runs and s == runs[-1][1]:
            runs[-1][1] = s + 1
        else:
            runs.append([s, s + 1])
    return runs


class RateClock:
    """Wakes on absolute deadlines ``t0 + k·period``.

    ``wait()`` returns the tick time. When a tick is already a whole period late
    (the loop body overran), the missed deadlines are counted and skipped, so the
    loop re-locks to the grid instead of bursting to catch up.
    """

    def __init__(
        self,
        hz: float,
        now_ns: Callable[[], int] = time.monotonic_ns,
        sleep_s: Callable[[float], None] = time.sleep,
    ) -> None:
        """``now_ns``/``sleep_s`` default to the real monotonic clock; tests pass a fake one."""
        if not 0 < hz <= 1000:
            raise ValueError(f"control rate must be in (0, 1000] Hz, got {hz}")
        self._now_ns = now_ns
        self._sleep_s = sleep_s
        self.period_ns = int(round(1e9 / hz))
        self._next_ns = 0
        self.stats = LoopStats(self.period_ns)

    def start(self) -> int:
        """Anchor the grid at now; the first tick is one period later."""
        now = self._now_ns()
        self._next_ns = now + self.period_ns
        return now

    def reset_stats(self) -> None:
        """Start a fresh LoopStats (new episode); the deadline grid is kept."""
        self.stats = LoopStats(self.period_ns)

    def wait(self) -> tuple[int, int]:
        """Sleep until the next deadline. Returns (tick_ns, deadline_ns)."""
        deadline = self._next_ns
        now = self._now_ns()
        if now > deadline + self.period_ns:
            skipped = (now - deadline) // self.period_ns
            self.stats.missed += int(skipped)
            deadline += skipped * self.period_ns
        while True:
            remaining = deadline - now
            if remaining <= 0:
                break
            if remaining > _SPIN_NS:
                self._sleep_s((remaining - _SPIN_NS) / 1e9)
            now = self._now_ns()
        if now - deadline > self.period_ns // 2:
            self.stats.missed += 1
        self._next_ns = deadline + self.period_ns
        self.stats.add_tick(now, deadline)
        return now, deadline
