"""The traffic forecast behind pacing."""

from __future__ import annotations

import pytest

from decision.forecast import HOUR, ForecastHorizon, TrafficForecast, hour_index, prior_weight

H0 = hour_index(1_700_006_400.0)  # a Wednesday 00:00 UTC


def history(forecast: TrafficForecast, days: int, level: float = 1000.0, spike: int | None = None) -> None:
    for h in range(H0 - 24 * days, H0):
        count = level * prior_weight(h) * (3.0 if h == spike else 1.0)
        forecast.observe(h, count)


def test_cold_start_knows_nothing_then_follows_the_live_rate():
    f = TrafficForecast()
    assert f.expected(H0) == 0.0
    f.hint_rate(H0, 500.0)
    assert f.expected(H0) == pytest.approx(500.0)
    assert f.expected(H0 + 20) == pytest.approx(500.0 * prior_weight(H0 + 20) / prior_weight(H0))


def test_seasonal_history_predicts_the_same_hours():
    f = TrafficForecast()
    history(f, 8)
    for h in (H0, H0 + 5, H0 + 20):
        assert f.expected(h) == pytest.approx(1000.0 * prior_weight(h), rel=1e-6)


def test_a_level_shift_moves_the_forecast_a_spike_does_not():
    shifted = TrafficForecast()
    history(shifted, 8)
    for h in range(H0 - 3, H0):
        shifted.observe(h, 1500.0 * prior_weight(h))
    assert shifted.expected(H0 + 2) == pytest.approx(1500.0 * prior_weight(H0 + 2), rel=1e-6)
    spiked = TrafficForecast()
    history(spiked, 8, spike=H0 - 1)
    assert spiked.expected(H0 + 2) == pytest.approx(1000.0 * prior_weight(H0 + 2), rel=1e-6)


def test_horizon_matches_the_plain_integral():
    f = TrafficForecast()
    history(f, 8)
    t0 = H0 * HOUR
    horizon = ForecastHorizon(f, H0)
    for start, end in ((t0, t0 + 86400), (t0 + 1234, t0 + 7 * 3600 + 99), (t0 + 100, t0 + 100)):
        assert horizon.remaining(start, end) == pytest.approx(f.remaining(start, end), rel=1e-9)


def test_horizon_masks_and_ramps():
    f = TrafficForecast()
    history(f, 8)
    t0 = H0 * HOUR
    horizon = ForecastHorizon(f, H0, hours=24 * 3)
    evenings = tuple(18 <= h % 24 < 23 for h in range(168))
    day = horizon.remaining(t0, t0 + 86400)
    masked = horizon.remaining(t0, t0 + 86400, mask=evenings)
    assert masked == pytest.approx(sum(f.expected(H0 + h) for h in range(18, 23)))
    assert 0 < masked < day
    # a ramp falling from 1.5 to 0.5 over the day weights the morning more
    ramp = (1.5, -1.0 / 86400)
    expected = sum(f.expected(H0 + h) * (1.5 - (h + 0.5) / 24) for h in range(24))
    assert horizon.remaining(t0, t0 + 86400, ramp=ramp) == pytest.approx(expected, rel=1e-9)
    # past the horizon: extrapolated, not dropped
    assert horizon.remaining(t0, t0 + 10 * 86400) > 9 * day


def test_a_scheduled_event_raises_its_hours_and_only_those():
    from decision.forecast import ScheduledEvent

    f = TrafficForecast()
    history(f, 8)
    t0 = H0 * HOUR
    plain = [f.expected(H0 + h) for h in range(24)]
    # 20:00-21:30: the whole of hour 20 at 2.5x, half of hour 21 at 2.5x (1.75x)
    f.set_events([ScheduledEvent(t0 + 20 * HOUR, t0 + 21.5 * HOUR, 2.5, "final")])
    assert f.event_factor(H0 + 20) == 2.5 and f.event_factor(H0 + 21) == pytest.approx(1.75)
    for h in range(24):
        factor = {20: 2.5, 21: 1.75}.get(h, 1.0)
        assert f.expected(H0 + h) == pytest.approx(plain[h] * factor, rel=1e-9)
    assert f.remaining(t0, t0 + 86400) == pytest.approx(sum(plain) + 1.5 * plain[20] + 0.75 * plain[21])
    assert ForecastHorizon(f, H0).remaining(t0, t0 + 86400) == pytest.approx(f.remaining(t0, t0 + 86400))


def test_a_scheduled_event_does_not_inflate_the_days_after_it():
    from decision.forecast import ScheduledEvent

    f = TrafficForecast()
    history(f, 8, spike=H0 - 4)  # 20:00 yesterday ran at 3x the usual
    event = ScheduledEvent((H0 - 4) * HOUR, (H0 - 3) * HOUR, 3.0)
    f.set_events([event])  # told after the fact: the observed hour is re-read
    assert f.observed(H0 - 4) == pytest.approx(3000.0 * prior_weight(H0 - 4))
    assert f.expected(H0 + 20) == pytest.approx(1000.0 * prior_weight(H0 + 20), rel=1e-6)
    unannounced = TrafficForecast()
    history(unannounced, 8, spike=H0 - 4)
    assert unannounced.expected(H0 + 20) > 1.5 * f.expected(H0 + 20)  # a surprise repeats in the naive forecast


def test_scheduled_events_are_validated():
    from decision.forecast import ScheduledEvent

    for args in ((10.0, 5.0, 2.0), (0.0, 10.0, 0.0), (0.0, float("inf"), 2.0)):
        with pytest.raises(ValueError):
            ScheduledEvent(*args)


def noisy_history(forecast: TrafficForecast, days: int, noise: float, seed: int = 5,
                  level: float = 40_000.0) -> dict[int, float]:
    """Hourly counts on the prior's shape with lognormal hour-to-hour noise."""
    import numpy as np

    rng = np.random.default_rng(seed)
    counts = {h: level * prior_weight(h) * float(rng.lognormal(0.0, noise)) for h in range(H0 - 24 * days, H0)}
    forecast.observe_many(counts)
    return counts


def seasonal_baseline(counts: dict[int, float], h: int) -> float:
    """The seasonal-naive estimate the forecast starts from: yesterday (weekday-corrected)
    and a week ago, averaged."""
    day = counts[h - 24] * prior_weight(h) / prior_weight(h - 24)
    return 0.5 * day + 0.5 * counts[h - 168]


def run_last_hours_at(forecast: TrafficForecast, counts: dict[int, float], factor: float, hours: int = 3) -> None:
    for h in range(H0 - hours, H0):
        forecast.observe(h, factor * seasonal_baseline(counts, h))


@pytest.mark.parametrize("factor", [1.04, 0.96])
def test_normal_noise_in_the_last_hours_does_not_move_the_level(factor):
    """With 3% hour-to-hour noise in the history, the last hours running 4% above (or
    below) their baseline is normal noise: the day ahead is forecast from the seasonal
    baseline, not 4% off (the bias that held plans under the ideal all morning)."""
    f = TrafficForecast()
    counts = noisy_history(f, 8, noise=0.03)
    run_last_hours_at(f, counts, factor)
    for h in (H0 + 2, H0 + 12, H0 + 20):
        assert f.expected(h) == pytest.approx(seasonal_baseline(counts, h), rel=1e-9)
    naive = TrafficForecast(noise_z=0.0)  # the level as measured, without the noise test
    naive.observe_many(counts)
    run_last_hours_at(naive, counts, factor)
    assert naive.expected(H0 + 12) == pytest.approx(factor * seasonal_baseline(counts, H0 + 12), rel=1e-9)


@pytest.mark.parametrize("factor", [1.3, 0.7, 2.0])
def test_a_real_level_shift_stands_out_of_the_noise_and_moves_the_level(factor):
    f = TrafficForecast()
    counts = noisy_history(f, 8, noise=0.03)
    run_last_hours_at(f, counts, factor)
    for h in (H0 + 2, H0 + 12):
        got = f.expected(h) / seasonal_baseline(counts, h)
        assert got == pytest.approx(factor, rel=0.03)  # shrunk by at most a few percent
        assert abs(got - 1.0) > 0.9 * abs(factor - 1.0)


def test_the_dead_band_is_the_noise_measured_in_the_history():
    """The same 8% excess in the last hours is noise in a history that wanders 8% hour
    to hour, and a level shift in one that wanders 1%."""
    noisy = TrafficForecast()
    noisy_counts = noisy_history(noisy, 8, noise=0.08)
    run_last_hours_at(noisy, noisy_counts, 1.08)
    assert noisy.expected(H0 + 12) == pytest.approx(seasonal_baseline(noisy_counts, H0 + 12), rel=1e-9)
    quiet = TrafficForecast()
    quiet_counts = noisy_history(quiet, 8, noise=0.01)
    run_last_hours_at(quiet, quiet_counts, 1.08)
    assert quiet.expected(H0 + 12) / seasonal_baseline(quiet_counts, H0 + 12) == pytest.approx(1.08, rel=0.01)


def test_with_too_little_history_to_measure_noise_the_level_moves_as_measured():
    f = TrafficForecast()
    counts = noisy_history(f, 1, noise=0.03)  # one day: no earlier level statistic to measure noise on
    for h in range(H0, H0 + 3):
        f.observe(h, 1.05 * counts[h - 24] * prior_weight(h) / prior_weight(h - 24))
    h = H0 + 8
    assert f.expected(h) == pytest.approx(1.05 * counts[h - 24] * prior_weight(h) / prior_weight(h - 24), rel=1e-9)
