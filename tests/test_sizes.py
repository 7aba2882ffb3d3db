"""``WORKBENCH_QUICK`` picks the reduced sizes; unset (the users' default) the full ones."""

import pytest

from workbench.sizes import QUICK_ENV, is_quick, run_size


@pytest.mark.parametrize(
    ("value", "quick"),
    [(None, False), ("", False), ("0", False), ("false", False), ("No", False),
     ("1", True), ("yes", True), (" true ", True)],
)  # fmt: skip
def test_run_size_follows_the_environment(monkeypatch, value, quick):
    if value is None:
        monkeypatch.delenv(QUICK_ENV, raising=False)
    else:
        monkeypatch.setenv(QUICK_ENV, value)
    assert is_quick() is quick
    assert run_size(1000, 300) == (300 if quick else 1000)


def test_the_test_session_runs_quick():
    assert is_quick()  # tests/conftest.py sets it, and notebook kernels inherit it
