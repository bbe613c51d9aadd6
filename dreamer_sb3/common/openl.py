"""Open-loop video predictions of the world model (DreamerV3's ``openl`` report).

For a few replayed sequences the posterior is computed on the first ``context`` frames; from the last context state
the prior is rolled forward under the *replayed* actions, and every latent is decoded. Each video frame shows, top to
bottom, the truth, the model (reconstructions during the context, open-loop predictions after it) and their error
(grey where they agree), with one column per sequence.

During training, :meth:`DreamerAlgorithm.train` writes one to TensorBoard every ``video_every_updates`` updates (as
an animated GIF image summary ``train/openl_<key>``, which TensorBoard shows under *Images*; torch's ``add_video``
needs ``moviepy.editor``, gone in moviepy 2, so the GIF is encoded here with Pillow). For a saved agent,
``python -m dreamer_sb3.zoo.openl`` writes the same video as a GIF file.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import numpy as np
import torch as th

from dreamer_sb3.common.replay import SequenceBatch

if TYPE_CHECKING:
    from dreamer_sb3.common.base import DreamerAlgorithm

#: sequences shown side by side (small: the video is rendered on the training device during training)
OPENL_SEQUENCES = 4
#: frames of posterior context before the open-loop prediction starts
OPENL_CONTEXT = 5
#: frames per second of the written GIF
OPENL_FPS = 10


def image_keys(model: DreamerAlgorithm) -> list[str]:
    """The observation keys the world model decodes as images (empty for vector observations)."""
    return list(model.policy.layout.image_keys)


@th.no_grad()
def openl_frames(
    model: DreamerAlgorithm, batch: SequenceBatch, n_sequences: int = OPENL_SEQUENCES, context: int = OPENL_CONTEXT
) -> dict[str, np.ndarray]:
    """Open-loop prediction videos of ``model``'s world model on ``batch`` (tensors on the model's device).

    :param batch: replayed windows ``(B, T, ...)``; the first ``n_sequences`` are used
    :param context: frames observed before predicting open loop (at least 1, less than ``T``)
    :return: per image key, uint8 frames ``(T, C, 3 * H, n * W)`` with ``C`` 1 or 3 (truth / model / error rows)
    """
    wm = model.policy.world_model
    layout = model.policy.layout
    if wm.decoder is None or wm.decoder.cnn is None:
        return {}
    steps = batch.reward.shape[1]
    if not 1 <= context < steps:
        raise ValueError(f"context must be in [1, {steps - 1}] for sequences of {steps} steps, got {context}")
    n = min(n_sequences, batch.reward.shape[0])
    obs = {k: v[:n] for k, v in batch.obs.items()}
    action, is_first = batch.action[:n].float(), batch.is_first[:n]
    was_training = wm.training
    wm.eval()
    # the posterior samples draw from torch's RNG: fork it, so that a video never changes the training's random stream
    devices = [model.device] if model.device.type == "cuda" else []
    try:
        with th.random.fork_rng(devices=devices), model.autocast():
            embed = wm.encoder({k: v[:, :context] for k, v in obs.items()}, batch_dims=2)
            post, _, _ = wm.rssm.observe(embed, action[:, :context], is_first[:, :context])
            start = type(post)(post.deter[:, -1], post.stoch[:, -1])
            future = action[:, context:].transpose(0, 1)  # (T - context, n, A): the replayed actions
            feats, _ = wm.rssm.imagine(start, future, steps - context, deterministic=True)
            feat = th.cat([wm.rssm.feat(post), feats[1:].transpose(0, 1)], 1)  # (n, T, F)
            recon = wm.decoder.predict(feat)["image"]  # (n, T, C_all, H, W) in [0, 255]
    finally:
        wm.train(was_training)
    videos: dict[str, np.ndarray] = {}
    channel = 0
    for key in layout.image_keys:
        truth = obs[key].float()
        c = truth.shape[-3]
        model_img = recon[:, :, channel : channel + c]
        channel += c
        if c not in (1, 3):  # e.g. stacked frames: show the first channel
            truth, model_img = truth[:, :, :1], model_img[:, :, :1]
        error = ((model_img - truth) / 2 + 127.5).clamp(0, 255)
        rows = th.cat([truth, model_img, error], -2)  # (n, T, C, 3H, W)
        video = th.cat(list(rows), -1)  # (T, C, 3H, n * W)
        videos[key] = video.round().to(th.uint8).cpu().numpy()
    return videos


def encode_gif(frames: np.ndarray, fps: int = OPENL_FPS) -> bytes:
    """An animated GIF of uint8 frames ``(T, C, H, W)`` (``C`` 1 or 3), looping forever.

    Colour frames are mapped to the nearest colour of a fixed 7x7x5 cube (245 colours, computed in numpy; each channel
    has mid-grey as a level, so the error row is flat grey where model and truth agree): adaptive palettes cost about
    a second per video on noisy frames, this costs milliseconds.
    """
    from PIL import Image

    arr = np.ascontiguousarray(frames.transpose(0, 2, 3, 1))
    if arr.shape[-1] == 1:
        images = [Image.fromarray(f[..., 0], mode="L") for f in arr]
    else:
        levels = np.array([7, 7, 5])
        q = np.rint(arr.astype(np.float32) * (levels - 1) / 255.0).astype(np.uint8)  # nearest level per channel
        index = (q[..., 0].astype(np.int32) * levels[1] + q[..., 1]) * levels[2] + q[..., 2]
        r, g, b = np.meshgrid(*(np.round(np.arange(n) * 255 / (n - 1)) for n in levels), indexing="ij")
        palette = np.stack([r, g, b], -1).reshape(-1, 3).astype(np.uint8).tobytes()
        images = []
        for f in index.astype(np.uint8):
            image = Image.fromarray(f, mode="P")
            image.putpalette(palette)
            images.append(image)
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return out.getvalue()


def _tensorboard_writer(model: DreamerAlgorithm) -> Any | None:
    from stable_baselines3.common.logger import TensorBoardOutputFormat

    logger = getattr(model, "_logger", None)
    for fmt in getattr(logger, "output_formats", []):
        if isinstance(fmt, TensorBoardOutputFormat):
            return fmt.writer
    return None


def record_openl(model: DreamerAlgorithm, batch: SequenceBatch, step: int | None = None) -> bool:
    """Write open-loop videos of ``batch`` to the model's TensorBoard log as ``train/openl_<key>`` (GIF images).

    Does nothing (and computes nothing) without a TensorBoard logger or without image observations.

    :param step: the summary's step (default: ``model.num_timesteps``)
    :return: whether a video was written
    """
    if not image_keys(model):
        return False
    writer = _tensorboard_writer(model)
    if writer is None:
        return False
    from tensorboard.compat.proto.summary_pb2 import Summary

    videos = openl_frames(model, batch)
    for key, frames in videos.items():
        _, c, h, w = frames.shape
        image = Summary.Image(height=h, width=w, colorspace=c, encoded_image_string=encode_gif(frames))
        summary = Summary(value=[Summary.Value(tag=f"train/openl_{key}", image=image)])
        writer.file_writer.add_summary(summary, model.num_timesteps if step is None else step)
    writer.flush()
    return bool(videos)
