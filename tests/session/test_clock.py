"""RateClock's deadline logic, on a fake clock: deterministic on a loaded machine."""

from __future__ import annotations

from teleforge.teleop.clock import RateClock


class FakeTime:
    """A monotonic clock that advances only when slept on (plus a fixed cost per read)."""

    def __init__(self, read_cost_ns: int = 20_000, oversleep_ns: int = 300_000) -> None:
        self.t = 1_000_000_000
        self.read_cost_ns = read_cost_ns
        self.oversleep_ns = oversleep_ns  # the scheduler wakes us late by this much

    def now_ns(self) -> int:
        self.t += self.read_cost_ns
        return self.t

    def sleep_s(self, s: float) -> None:
        self.t += int(s * 1e9) + self.oversleep_ns

    def work(self, s: float) -> None:
        """The loop body running for ``s`` seconds."""
        self.t += int(s * 1e9)


def _clock(hz: float, ft: FakeTime) -> RateClock:
    return RateClock(hz, now_ns=ft.now_ns, sleep_s=ft.sleep_s)


def test_deadlines_stay_on_the_absolute_grid():
    ft = FakeTime()
    clock = _clock(500.0, ft)
    clock.start()
    deadlines = []
    for k in range(50):
        deadlines.append(clock.wait()[1])
        ft.work(0.0005 + 0.0003 * (k % 3))  # uneven loop bodies must not shift later deadlines
    period = clock.period_ns
    assert all(d - deadlines[0] == k * period for k, d in enumerate(deadlines))
    assert all(t >= d for t, d in zip(clock.stats.tick_ns, deadlines))
    assert clock.stats.missed == 0


def test_overrun_counts_missed_deadlines_and_relocks_to_grid():
    ft = FakeTime()
    clock = _clock(200.0, ft)  # 5 ms
    clock.start()
    first = clock.wait()[1]
    ft.work(0.0175)  # overrun by 3.5 periods
    tick, deadline = clock.wait()
    # deadlines at +1 and +2 periods were skipped; the tick lands on the grid again
    assert clock.stats.missed >= 2
    assert (deadline - first) % clock.period_ns == 0
    assert deadline >= first + 3 * clock.period_ns
    assert tick - deadline < clock.period_ns


def test_summary_reports_period_and_frame_age():
    ft = FakeTime()
    clock = _clock(250.0, ft)
    clock.start()
    for _ in range(20):
        clock.wait()
        clock.stats.add_frame_age("front", 4_000_000)
    s = clock.stats.summary()
    assert s["steps"] == 20
    assert abs(s["period_p50_ms"] - 4.0) < 2.0
    assert s["frame_age_p99_ms"]["front"] == 4.0


def test_real_clock_still_ticks():
    clock = RateClock(500.0)
    clock.start()
    ticks = [clock.wait() for _ in range(5)]
    assert all(t >= d for t, d in ticks)
    assert all(b[1] - a[1] >= clock.period_ns for a, b in zip(ticks, ticks[1:]))
