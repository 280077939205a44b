"""users.py: -u resolution (the spec tests cover the table) and reading files from image layers."""

from __future__ import annotations

import os

import pytest

from rootless.engine.users import read_image_file, resolve_user


def test_read_image_file_top_layer_wins_and_whiteouts(tmp_path):
    low, mid, top = (tmp_path / n for n in ("low", "mid", "top"))
    for d in (low, mid, top):
        (d / "etc").mkdir(parents=True)
    (low / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    assert read_image_file([low, mid, top], "etc/passwd").startswith("root:")
    (mid / "etc" / "passwd").write_text("root:x:0:0::/r2:/bin/sh\n")
    assert "/r2" in read_image_file([low, mid, top], "/etc/passwd")
    (top / "etc" / ".wh.passwd").write_text("")
    assert read_image_file([low, mid, top], "etc/passwd") == ""
    assert read_image_file([low], "etc/group") == ""


def test_read_image_file_overlay_whiteout(tmp_path):
    low, top = tmp_path / "low", tmp_path / "top"
    (low / "etc").mkdir(parents=True)
    (top / "etc").mkdir(parents=True)
    (low / "etc" / "group").write_text("root:x:0:\n")
    try:
        os.mknod(top / "etc" / "group", 0o020000 | 0o600, 0)
    except PermissionError:  # an unprivileged user may not make a 0/0 device outside a user namespace
        return
    assert read_image_file([low, top], "etc/group") == ""


def test_numeric_without_passwd():
    user = resolve_user("123:456", "", "")
    assert (user.uid, user.gid, user.additional_gids, user.home) == (123, 456, (), "/")
    assert resolve_user("", "", "").uid == 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any directory; the case exists only for users")
def test_read_image_file_in_an_untraversable_dir_is_empty_not_an_error(tmp_path):
    """A layer dir owned by a subordinate id with mode 0700 (e.g. from `rl import` of a tarball
    whose root was 0700) cannot be searched by the user: that reads as no file, not a traceback."""
    layer = tmp_path / "layer"
    (layer / "etc").mkdir(parents=True)
    (layer / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (layer / "etc").chmod(0)
    try:
        assert read_image_file([layer], "etc/passwd") == ""
    finally:
        (layer / "etc").chmod(0o755)
