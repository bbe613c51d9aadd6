from dreamer_sb3.dreamerv2.dreamerv2 import DreamerV2

__all__ = ["DreamerV2"]
