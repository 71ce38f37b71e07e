import time

from teleforge.teleop.clock import RateClock


def test_deadlines_stay_on_the_absolute_grid():
    clock = RateClock(500.0)
    clock.start()
    deadlines = [clock.wait()[1] for _ in range(50)]
    period = clock.period_ns
    assert all(d - deadlines[0] == k * period for k, d in enumerate(deadlines))
    assert all(t >= d for t, d in zip(clock.stats.tick_ns, deadlines))


def test_overrun_counts_missed_deadlines_and_relocks_to_grid():
    clock = RateClock(200.0)  # 5 ms
    clock.start()
    first = clock.wait()[1]
    time.sleep(0.0175)  # overrun by 3.5 periods
    tick, deadline = clock.wait()
    # deadlines at +1 and +2 periods were skipped; the tick lands on the grid again
    assert clock.stats.missed >= 2
    assert (deadline - first) % clock.period_ns == 0
    assert deadline >= first + 3 * clock.period_ns
    assert tick - deadline < clock.period_ns


def test_summary_reports_period_and_frame_age():
    clock = RateClock(250.0)
    clock.start()
    for _ in range(20):
        t, _ = clock.wait()
        clock.stats.add_frame_age("front", 4_000_000)
    s = clock.stats.summary()
    assert s["steps"] == 20
    assert abs(s["period_p50_ms"] - 4.0) < 2.0
    assert s["frame_age_p99_ms"]["front"] == 4.0
