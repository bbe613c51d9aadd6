"""``python -m dreamer_sb3.zoo.openl``: the open-loop prediction GIF of the shipped pixel agent."""

import numpy as np
import pytest
from PIL import Image

from dreamer_sb3.zoo import openl


def test_openl_gif_of_the_shipped_pixel_agent(tmp_path, capsys):
    out = tmp_path / "openl.gif"
    args = ["--algo", "dreamerv3", "--env", "dreamer_sb3/CartPole-pixels-v0", "-o", str(out)]
    openl.main([*args, "--sequences", "2", "--steps", "10", "--context", "4"])
    assert str(out) in capsys.readouterr().out
    gif = Image.open(out)
    assert gif.n_frames == 10 and gif.size == (2 * 64, 3 * 64)
    gif.seek(2)  # a context frame: the reconstruction is close to the truth
    frame = np.asarray(gif.convert("RGB")).astype(int)
    truth, model = frame[:64], frame[64:128]
    assert np.abs(truth - model).mean() < 20


def test_openl_needs_image_observations(tmp_path):
    with pytest.raises(ValueError, match="no image observations"):
        openl.openl_gif("dreamerv3", "CartPole-v1", tmp_path / "x.gif")
