"""Wrapper tests: headless pygame, and no env-checker advice to check unwrapped envs (wrapped envs are tested)."""

import os

import pytest

# pygame (classic-control rendering) must not open a real video device: SDL's EGL use can terminate the EGL display
# that dm_control renders with in the same process.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/wrappers/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.filterwarnings("ignore:.*is different from the unwrapped version"))
            item.add_marker(pytest.mark.filterwarnings("ignore:.*Box observation space (minimum|maximum) value"))
