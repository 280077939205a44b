"""docker's go-units sizes and durations (pure)."""

import pytest

from rootless.engine import units as f


@pytest.mark.parametrize("size, text", [
    (0, "0B"), (999, "999B"), (1000, "1kB"), (1234, "1.23kB"), (4_860_000, "4.86MB"), (187_000_000, "187MB"),
    (12_345_678, "12.3MB"), (1_200_000_000, "1.2GB"),
])
def test_human_size(size, text):
    assert f.human_size(size) == text


@pytest.mark.parametrize("seconds, text", [
    (0.5, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (60, "About a minute"),
    (119, "About a minute"), (120, "2 minutes"), (3599, "59 minutes"), (3600, "About an hour"),
    (5400, "2 hours"), (47 * 3600, "47 hours"), (48 * 3600, "2 days"), (15 * 86400, "2 weeks"),
    (61 * 86400, "2 months"), (800 * 86400, "2 years"),
])
def test_human_duration(seconds, text):
    assert f.human_duration(seconds) == text


@pytest.mark.parametrize("seconds,text", [
    (0.2, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (60, "About a minute"),
    (150, "2 minutes"), (3600, "About an hour"), (3 * 3600, "3 hours"), (47 * 3600, "47 hours"),
    (3 * 86400, "3 days"), (15 * 86400, "2 weeks"), (70 * 86400, "2 months"), (800 * 86400, "2 years"),
])
def test_human_duration_as_ps_shows_it(seconds, text):
    assert f.human_duration(seconds) == text
