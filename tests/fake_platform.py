"""Test-only: the run believes it is on macOS, with `-p tests.fake_platform` (set once the plugins have imported)."""
import sys


def pytest_configure(config):
    sys.platform = "darwin"
