from dreamer_sb3.dreamerv1.dreamerv1 import DreamerV1

__all__ = ["DreamerV1"]
