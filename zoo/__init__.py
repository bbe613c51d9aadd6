"""The rl-zoo-like layer: hyperparameter files, rl-zoo3 registration and the train command line.

``python -m dreamer_sb3.zoo.train --algo dreamerv3 --env CartPole-v1`` runs rl-zoo3's own
training entry point with our algorithms registered and our YAML as the default config.
"""

from dreamer_sb3.zoo.registry import ALGORITHMS, algorithm_class, hyperparams_path, register_in_rl_zoo3

__all__ = ["ALGORITHMS", "algorithm_class", "hyperparams_path", "register_in_rl_zoo3"]
