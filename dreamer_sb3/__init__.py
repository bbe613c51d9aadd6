"""dreamer-sb3: the Dreamer family as Stable-Baselines3 algorithms."""

from dreamer_sb3.dreamerv3 import DreamerV3

__version__ = "0.1.0"

__all__ = ["DreamerV3", "__version__"]
