"""``predict`` without ``state``: a memoryless agent, which the second such call says once."""

import warnings

import numpy as np
import pytest

from dreamer_sb3 import DreamerV3
from tests.conftest import TINY


def test_predict_without_state_warns_once_and_the_recurrent_loop_stays_silent():
    model = DreamerV3("MlpPolicy", "CartPole-v1", **TINY)
    obs = np.zeros((1, 4), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        state, starts = None, np.ones(1, dtype=bool)
        for _ in range(3):  # the documented loop: state passed back, episode_start given
            _, state = model.predict(obs, state=state, episode_start=starts)
            starts = np.zeros(1, dtype=bool)
        model.predict(obs)  # one call without state: a fresh episode, fine
    with pytest.warns(UserWarning, match=r"memoryless.*state=state, episode_start=episode_starts"):
        model.predict(obs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict(obs)  # once only
