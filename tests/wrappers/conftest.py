"""Wrapper tests: silence the env checker's advice to check unwrapped envs (wrapped envs are what we test)."""

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/wrappers/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.filterwarnings("ignore:.*is different from the unwrapped version"))
            item.add_marker(pytest.mark.filterwarnings("ignore:.*Box observation space (minimum|maximum) value"))
