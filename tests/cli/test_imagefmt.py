"""Docker's formatting of image listings: sizes, ages, tables, --format templates (pure)."""

from datetime import datetime, timezone

import pytest

from rootless.cli.commands import imagefmt as f


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


def test_since():
    now = datetime(2024, 1, 1, 0, 2, 0, tzinfo=timezone.utc)
    assert f.since("2024-01-01T00:00:30.123456789Z", now) == "About a minute ago"
    assert f.since("2023-12-31T23:00:00+00:00", now) == "About an hour ago"
    assert f.since(None, now) == "N/A" and f.since("garbage", now) == "N/A"


def test_table_like_docker():
    out = f.table(["REPOSITORY", "TAG", "IMAGE ID"], [["busybox", "latest", "0123456789ab"]])
    assert out == "REPOSITORY   TAG       IMAGE ID\nbusybox      latest    0123456789ab\n"


ROWS = [{"Repository": "busybox", "Tag": "latest", "ID": "abc"}, {"Repository": "a/b", "Tag": "1", "ID": "def"}]


@pytest.mark.parametrize("template, expected", [
    ("{{.Repository}}:{{.Tag}}", "busybox:latest\na/b:1\n"),
    ("{{ .ID }}", "abc\ndef\n"),
    ("{{json .Tag}}", '"latest"\n"1"\n'),
    ("table {{.Repository}}\\t{{.ID}}", "REPOSITORY   IMAGE ID\nbusybox      abc\na/b          def\n"),
])
def test_render(template, expected):
    assert f.render(template, ROWS, {"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID"}) == expected
