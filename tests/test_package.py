"""The package face: one algorithm registry, a cheap import, and the algorithms visible to type checkers."""

import ast
import pathlib
import subprocess
import sys

import dreamer_sb3
from dreamer_sb3.zoo.registry import ALGORITHMS as ZOO_ALGORITHMS
from dreamer_sb3.zoo.registry import algorithm_class


def test_zoo_names_are_derived_from_the_package_registry():
    assert ZOO_ALGORITHMS == {
        "planet": ("dreamer_sb3.planet", "PlaNet"),
        "dreamerv1": ("dreamer_sb3.dreamerv1", "DreamerV1"),
        "dreamerv2": ("dreamer_sb3.dreamerv2", "DreamerV2"),
        "dreamerv3": ("dreamer_sb3.dreamerv3", "DreamerV3"),
    }
    for name, (_, cls) in ZOO_ALGORITHMS.items():
        assert algorithm_class(name) is getattr(dreamer_sb3, cls)
        assert getattr(dreamer_sb3, cls).__name__ == cls


def test_type_checking_imports_match_the_registry():
    """The ``if TYPE_CHECKING:`` imports name exactly the registry's classes, each from its module."""
    tree = ast.parse(pathlib.Path(dreamer_sb3.__file__).read_text())
    blocks = [node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"]
    assert len(blocks) == 1
    imported = {alias.name: node.module for node in blocks[0].body if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert imported == dreamer_sb3.ALGORITHM_MODULES
    assert set(dreamer_sb3.__all__) == {*dreamer_sb3.ALGORITHM_MODULES, "ALGORITHM_MODULES", "__version__"}


def test_import_is_cheap_and_algorithms_load_on_access():
    code = (
        "import sys, dreamer_sb3, dreamer_sb3.zoo\n"
        "assert 'torch' not in sys.modules, 'importing dreamer_sb3 imported torch'\n"
        "assert dreamer_sb3.DreamerV3.__module__.startswith('dreamer_sb3.dreamerv3')\n"
        "assert 'torch' in sys.modules\n"
        "try:\n"
        "    dreamer_sb3.DreamerV4\n"
        "except AttributeError as e:\n"
        "    assert 'DreamerV4' in str(e)\n"
        "else:\n"
        "    raise AssertionError('no AttributeError')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
