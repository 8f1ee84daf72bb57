"""openunmix.utils: the umask is read, never set (not even for a moment)."""

import os

from helpers.process_state import kept, umask_now
from openunmix.utils import atomic_path, current_umask, file_mode, folder_mode


def test_the_umask_is_read_without_setting_it(tmp_path):
    before = os.umask(0o027)  # the test sets it; the package must only read it
    try:
        with kept():
            assert current_umask() == 0o027 == umask_now()
            assert file_mode() == 0o640 and folder_mode() == 0o750
            with atomic_path(tmp_path / "file.txt") as tmp:
                with open(tmp, "w") as f:
                    f.write("x")
        assert (tmp_path / "file.txt").stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(before)
