from dreamer_sb3.dreamerv3.dreamerv3 import DreamerV3

__all__ = ["DreamerV3"]
