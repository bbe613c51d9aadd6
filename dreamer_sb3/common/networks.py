"""Building blocks: MLPs, the CNN image encoder / decoder and the multi-key observation codecs.

DreamerV3 uses ``Linear -> Norm -> SiLU`` blocks everywhere (LayerNorm in its 2023 release, RMSNorm in its
current code); DreamerV1 / PlaNet use ELU without normalisation. All are one ``norm`` / ``act`` switch here.
"""

from __future__ import annotations

import numpy as np
import torch as th
import torch.nn.functional as F
from gymnasium import spaces
from stable_baselines3.common.preprocessing import is_image_space
from torch import nn

from dreamer_sb3.common.distributions import symlog
from dreamer_sb3.common.specs import Activation, Norm

ACTIVATIONS: dict[str, type[nn.Module]] = {"silu": nn.SiLU, "elu": nn.ELU, "relu": nn.ReLU, "tanh": nn.Tanh}


def make_act(name: str) -> nn.Module:
    """Activation module from its name (``silu``, ``elu``, ``relu``, ``tanh``)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"Unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}") from None


class RMSNorm(nn.RMSNorm):
    """RMSNorm with a learned scale, computed in float32 and returned in the input's dtype, as the official
    ``Norm('rms')`` does (under bf16 autocast the input is bf16; torch's fused kernel wants one dtype)."""

    def forward(self, x: th.Tensor) -> th.Tensor:
        return F.rms_norm(x.float(), self.normalized_shape, self.weight, self.eps).to(x.dtype)


def make_norm(norm: Norm, size: int) -> nn.Module | None:
    """The normalisation over a last axis of ``size``: LayerNorm (``True`` / ``"layer"``, eps 1e-3), RMSNorm with a
    learned scale (``"rms"``, eps 1e-4, the current DreamerV3 code's ``Norm('rms')``) or ``None`` (``False``).

    :raises ValueError: for an unknown kind
    """
    if norm is False:
        return None
    if norm is True or norm == "layer":
        return nn.LayerNorm(size, eps=1e-3)
    if norm == "rms":
        return RMSNorm(size, eps=1e-4)
    raise ValueError(f"norm must be True / 'layer', 'rms' or False, got {norm!r}")


def has_bias(norm: Norm) -> bool:
    """Whether a linear / conv layer followed by ``norm`` keeps its bias: not before a LayerNorm, whose shift
    makes it redundant; yes before an RMSNorm (it has no shift and does not remove the mean; the official
    layers keep theirs) or without a norm."""
    return not (norm is True or norm == "layer")


def init_weights(module: nn.Module) -> None:
    """Xavier-uniform weights and zero biases for every linear / conv layer."""
    for m in module.modules():
        if isinstance(m, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class BlockLinear(nn.Module):
    """A block-diagonal linear map: the input splits into ``blocks`` equal groups, each mapped by its own weights
    to its group of the output (the current DreamerV3 code's ``BlockLinear``; ``blocks`` times fewer weights and
    FLOPs than a dense map of the same size).

    :param in_features: input size, divisible by ``blocks``
    :param out_features: output size, divisible by ``blocks``
    :param blocks: number of groups
    :param bias: learn a bias over the whole output
    """

    def __init__(self, in_features: int, out_features: int, blocks: int, bias: bool = True) -> None:
        super().__init__()
        if blocks < 1 or in_features % blocks or out_features % blocks:
            raise ValueError(
                f"BlockLinear needs sizes divisible by the number of blocks, got {in_features} -> {out_features} "
                f"in {blocks} blocks"
            )
        self.in_features, self.out_features, self.blocks = in_features, out_features, blocks
        self.weight = nn.Parameter(th.empty(blocks, in_features // blocks, out_features // blocks))
        self.bias = nn.Parameter(th.zeros(out_features)) if bias else None
        bound = float(np.sqrt(6.0 / (self.weight.shape[1] + self.weight.shape[2])))  # Xavier-uniform per block
        nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, x: th.Tensor) -> th.Tensor:
        groups = x.reshape(*x.shape[:-1], self.blocks, self.in_features // self.blocks)
        y = th.einsum("...gi,gio->...go", groups, self.weight).reshape(*x.shape[:-1], self.out_features)
        return y if self.bias is None else y + self.bias


def fan_in(layer: nn.Linear | nn.Conv2d | nn.ConvTranspose2d | BlockLinear) -> int:
    """Inputs per output unit: ``in_features`` (per block for a :class:`BlockLinear`), or input channels times the
    kernel's area (for a transposed convolution too: its input channels, as the official code counts a kernel
    ``(k, k, in, out)``)."""
    if isinstance(layer, nn.Linear):
        return layer.in_features
    if isinstance(layer, BlockLinear):
        return layer.in_features // layer.blocks
    return layer.in_channels * layer.kernel_size[0] * layer.kernel_size[1]


def trunc_normal_in_(module: nn.Module) -> None:
    """The current DreamerV3 code's ``trunc_normal_in`` initialiser for every linear / conv layer: a normal truncated
    at ±2 standard deviations, times ``1.1368 / sqrt(fan_in)`` (1.1368 restores the unit variance the truncation
    removes); zero biases (``embodied/jax/nets.py Initializer``)."""
    for m in module.modules():
        if isinstance(m, nn.Linear | nn.Conv2d | nn.ConvTranspose2d | BlockLinear):
            with th.no_grad():
                nn.init.trunc_normal_(m.weight, mean=0.0, std=1.0, a=-2.0, b=2.0)
                m.weight.mul_(1.1368 / np.sqrt(fan_in(m)))
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def zero_init(layer: nn.Linear) -> nn.Linear:
    """Zero the output layer (DreamerV3 starts reward and critic predictions at exactly 0)."""
    nn.init.zeros_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


class MLP(nn.Module):
    """``layers`` hidden blocks of ``Linear -> [norm] -> act``, then an optional output layer.

    :param in_dim: input features
    :param out_dim: output features, or ``None`` to return the last hidden layer
    :param units: hidden width
    :param layers: number of hidden blocks
    :param norm: the normalisation after each hidden linear layer (:func:`make_norm`)
    :param act: activation name
    :param zero_out: zero-initialise the output layer
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int | None,
        units: int,
        layers: int,
        norm: Norm = True,
        act: Activation = "silu",
        zero_out: bool = False,
    ) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        dim = in_dim
        for _ in range(layers):
            blocks.append(nn.Linear(dim, units, bias=has_bias(norm)))
            if (layer_norm := make_norm(norm, units)) is not None:
                blocks.append(layer_norm)
            blocks.append(make_act(act))
            dim = units
        self.hidden = nn.Sequential(*blocks)
        self.out_dim = out_dim if out_dim is not None else dim
        self.out = nn.Linear(dim, out_dim) if out_dim is not None else None
        self.zero_out = zero_out
        init_weights(self)
        if zero_out and self.out is not None:
            zero_init(self.out)

    def forward(self, x: th.Tensor) -> th.Tensor:
        x = self.hidden(x)
        return self.out(x) if self.out is not None else x


# ---------------------------------------------------------------------------------------------
# Observation layout
# ---------------------------------------------------------------------------------------------


class ObsLayout:
    """How an observation space splits into image keys (CNN) and vector keys (MLP).

    Non-``Dict`` spaces are treated as a dict with the single key ``"obs"``. Images are uint8
    ``Box`` spaces of rank 3 in channel-first layout (SB3 transposes channel-last images with
    ``VecTransposeImage`` before the model sees them); every other ``Box`` is flattened into the
    vector part.

    :param observation_space: the (possibly transposed) observation space of the model
    :raises ValueError: on spaces that Dreamer cannot model
    """

    def __init__(self, observation_space: spaces.Space) -> None:
        if isinstance(observation_space, spaces.Dict):
            items = list(observation_space.spaces.items())
            self.is_dict = True
        else:
            items = [("obs", observation_space)]
            self.is_dict = False
        self.image_keys: list[str] = []
        self.vector_keys: list[str] = []
        self.image_shape: tuple[int, int, int] | None = None
        self.vector_dims: dict[str, int] = {}
        self.onehot_sizes: dict[str, list[int]] = {}
        self.onehot_starts: dict[str, list[int]] = {}  #: ``start`` of each Discrete / MultiDiscrete entry
        for key, space in items:
            if isinstance(space, spaces.Discrete | spaces.MultiDiscrete) and np.ndim(getattr(space, "nvec", 0)) <= 1:
                sizes = [int(space.n)] if isinstance(space, spaces.Discrete) else [int(n) for n in space.nvec]
                self.onehot_sizes[key] = sizes
                start = space.start if isinstance(space, spaces.Discrete) else getattr(space, "start", 0)
                self.onehot_starts[key] = [int(x) for x in np.broadcast_to(np.asarray(start), (len(sizes),))]
                self.vector_keys.append(key)
                self.vector_dims[key] = sum(sizes)
                continue
            if isinstance(space, spaces.MultiBinary) and np.ndim(space.n) == 0:
                self.vector_keys.append(key)
                self.vector_dims[key] = int(np.asarray(space.n))
                continue
            if not isinstance(space, spaces.Box):
                raise ValueError(
                    f"Unsupported observation space {space!r} for key {key!r}: Dreamer agents support Box observations "
                    "(uint8 images of shape (C, H, W) or (H, W, C), or float vectors), Discrete / MultiDiscrete "
                    "(one-hot encoded), 1-D MultiBinary, and Dict spaces of those. Wrap the env to use it."
                )
            if is_image_space(space, check_channels=False) and len(space.shape) == 3:
                shape = tuple(int(s) for s in space.shape)
                if shape[0] not in (1, 3, 4) and shape[-1] in (1, 3, 4):
                    raise ValueError(
                        f"Image observation {key!r} has channel-last shape {shape}; wrap the env in a VecEnv "
                        "(SB3 adds VecTransposeImage) or use VecTransposeImage yourself."
                    )
                c, h, w = shape
                if h % 16 or w % 16:
                    raise ValueError(
                        f"Image observation {key!r} has size {h}x{w}; the CNN encoder needs height and width divisible "
                        "by 16 (64x64 is Dreamer's default). Resize it, e.g. with dreamer_sb3.wrappers' pixel wrapper "
                        "or gymnasium.wrappers.ResizeObservation."
                    )
                if self.image_shape is not None and self.image_shape[1:] != (h, w):
                    raise ValueError(f"All image observations must share one size, got {self.image_shape[1:]} and {(h, w)}")
                self.image_shape = (c + (self.image_shape[0] if self.image_shape else 0), h, w)
                self.image_keys.append(key)
            else:
                self.vector_keys.append(key)
                self.vector_dims[key] = int(np.prod(space.shape))
        self.vector_dim = int(sum(self.vector_dims.values()))

    def as_dict(self, obs) -> dict:
        """Wrap a non-dict observation as ``{"obs": obs}``."""
        return obs if self.is_dict else {"obs": obs}


def preprocess_images(obs: dict[str, th.Tensor], layout: ObsLayout, bits: int = 8, noise: bool = False) -> th.Tensor | None:
    """Concatenate image keys along channels and map uint8 ``[0, 255]`` to float ``[-0.5, 0.5]``.

    With ``bits < 8`` the images are first quantised to ``bits`` bits, as PlaNet's preprocessing:
    ``floor(x / 2^(8 - bits)) / 2^bits - 0.5`` plus uniform dequantisation noise ``U(0, 2^-bits)`` when ``noise``
    (the world-model loss) or the bin centre ``2^-(bits + 1)`` otherwise (acting, so that acting stays a pure
    function of the observation). ``bits = 8`` is ``x / 255 - 0.5`` (no noise).
    """
    if not layout.image_keys:
        return None
    if not 1 <= bits <= 8:
        raise ValueError(f"image_bits must be in [1, 8], got {bits}")
    imgs = [obs[k] for k in layout.image_keys]
    x = th.cat(imgs, dim=-3) if len(imgs) > 1 else imgs[0]
    if bits == 8:
        return x.float() / 255.0 - 0.5
    bins = 2.0**bits
    x = th.floor(x.float() / 2.0 ** (8 - bits)) / bins
    offset = th.rand_like(x) / bins if noise else th.full_like(x, 0.5 / bins)
    return x + offset - 0.5


def preprocess_vectors(obs: dict[str, th.Tensor], layout: ObsLayout, batch_dims: int) -> th.Tensor:
    """Flatten and concatenate the vector keys: ``(*batch, vector_dim)`` (the layout must have some)."""
    if not layout.vector_keys:
        raise ValueError("The observation layout has no vector keys")
    parts: list[th.Tensor] = []
    for k in layout.vector_keys:
        x = obs[k]
        if k in layout.onehot_sizes:
            idx = x.long().reshape(*x.shape[:batch_dims], -1)
            starts = layout.onehot_starts[k]
            parts.extend(F.one_hot(idx[..., i] - starts[i], n).float() for i, n in enumerate(layout.onehot_sizes[k]))
        else:
            parts.append(x.float().reshape(*x.shape[:batch_dims], -1))
    return th.cat(parts, dim=-1) if len(parts) > 1 else parts[0]


# ---------------------------------------------------------------------------------------------
# CNN encoder / decoder
# ---------------------------------------------------------------------------------------------


class ChannelNorm(nn.Module):
    """A norm (:func:`make_norm`) over the channel axis of an NCHW tensor (as DreamerV3 normalises conv features)."""

    def __init__(self, channels: int, norm: Norm = True) -> None:
        super().__init__()
        layer = make_norm(norm, channels)
        if layer is None:
            raise ValueError("ChannelNorm needs a norm (True, 'layer' or 'rms')")
        self.norm = layer

    def forward(self, x: th.Tensor) -> th.Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvEncoder(nn.Module):
    """Four stride-2 4x4 convolutions with widths ``depth * (1, 2, 4, 8)``: 64x64 -> 4x4.

    Convolutions run in channels-last memory layout: the channel LayerNorm then normalises a
    contiguous last axis (no permute copies) and oneDNN needs no layout reorders
    (about 10% faster forward + backward on CPU, measured in docs/performance.md).

    :param in_shape: ``(C, H, W)``, H and W divisible by 16
    :param depth: channel multiplier
    """

    def __init__(self, in_shape: tuple[int, int, int], depth: int = 32, norm: Norm = True, act: Activation = "silu") -> None:
        super().__init__()
        c, h, w = in_shape
        layers: list[nn.Module] = []
        for i in range(4):
            out = depth * 2**i
            layers.append(nn.Conv2d(c, out, 4, 2, 1, bias=has_bias(norm)))
            if norm:
                layers.append(ChannelNorm(out, norm))
            layers.append(make_act(act))
            c = out
        self.net = nn.Sequential(*layers)
        self.out_dim = c * (h // 16) * (w // 16)
        init_weights(self)
        self.to(memory_format=th.channels_last)  # type: ignore[call-overload]

    def forward(self, x: th.Tensor) -> th.Tensor:
        batch = x.shape[:-3]
        y = self.net(x.reshape(-1, *x.shape[-3:]).contiguous(memory_format=th.channels_last))
        return y.reshape(*batch, -1)


class ConvDecoder(nn.Module):
    """Mirror of :class:`ConvEncoder`: a linear layer to ``(8 * depth, H/16, W/16)`` then four
    stride-2 transposed convolutions back to ``(C, H, W)``."""

    def __init__(
        self, in_dim: int, out_shape: tuple[int, int, int], depth: int = 32, norm: Norm = True, act: Activation = "silu"
    ) -> None:
        super().__init__()
        c, h, w = out_shape
        self.out_shape = out_shape
        self.start = (8 * depth, h // 16, w // 16)
        self.linear = nn.Linear(in_dim, int(np.prod(self.start)))
        layers: list[nn.Module] = []
        ch = 8 * depth
        for i in range(3):
            out = depth * 2 ** (2 - i)
            layers.append(nn.ConvTranspose2d(ch, out, 4, 2, 1, bias=has_bias(norm)))
            if norm:
                layers.append(ChannelNorm(out, norm))
            layers.append(make_act(act))
            ch = out
        layers.append(nn.ConvTranspose2d(ch, c, 4, 2, 1))
        self.net = nn.Sequential(*layers)
        init_weights(self)
        self.to(memory_format=th.channels_last)  # type: ignore[call-overload]

    def forward(self, feat: th.Tensor) -> th.Tensor:
        batch = feat.shape[:-1]
        x = self.linear(feat.reshape(-1, feat.shape[-1])).reshape(-1, *self.start)
        return self.net(x.contiguous(memory_format=th.channels_last)).reshape(*batch, *self.out_shape)


# ---------------------------------------------------------------------------------------------
# Multi-key encoder / decoder
# ---------------------------------------------------------------------------------------------


class MultiEncoder(nn.Module):
    """Encodes a dict observation: CNN over the stacked image keys, MLP over the vector keys.

    :param layout: the observation layout
    :param symlog_inputs: apply :func:`symlog` to vector inputs (DreamerV3)
    """

    def __init__(
        self,
        layout: ObsLayout,
        depth: int,
        units: int,
        layers: int,
        norm: Norm = True,
        act: Activation = "silu",
        symlog_inputs: bool = True,
        cnn_act: Activation | None = None,
        image_bits: int = 8,
    ) -> None:
        super().__init__()
        self.layout = layout
        self.symlog_inputs = symlog_inputs
        self.image_bits = image_bits
        self.cnn = ConvEncoder(layout.image_shape, depth, norm, cnn_act or act) if layout.image_shape is not None else None
        self.mlp = MLP(layout.vector_dim, None, units, layers, norm, act) if layout.vector_keys else None
        self.out_dim = (self.cnn.out_dim if self.cnn else 0) + (self.mlp.out_dim if self.mlp else 0)

    def forward(self, obs: dict[str, th.Tensor], batch_dims: int, images: th.Tensor | None = None) -> th.Tensor:
        """Embedding of ``obs``; ``images``: the already preprocessed images (the world-model loss passes the
        noisy ones it also reconstructs), else they are preprocessed here without noise."""
        outs = []
        if self.cnn is not None:
            if images is None:
                images = preprocess_images(obs, self.layout, self.image_bits)
            outs.append(self.cnn(images))
        if self.mlp is not None:
            vec = preprocess_vectors(obs, self.layout, batch_dims)
            outs.append(self.mlp(symlog(vec) if self.symlog_inputs else vec))
        return th.cat(outs, -1) if len(outs) > 1 else outs[0]


class MultiDecoder(nn.Module):
    """Reconstructs a dict observation from latent features.

    Image loss: squared error summed over pixels (unit-variance Gaussian). Vector loss: squared
    error summed over dimensions, in symlog space when ``symlog_targets`` (DreamerV3).
    ``cnn_act`` (default ``act``) is the activation of the transposed convolutions.
    """

    def __init__(
        self,
        feat_dim: int,
        layout: ObsLayout,
        depth: int,
        units: int,
        layers: int,
        norm: Norm = True,
        act: Activation = "silu",
        symlog_targets: bool = True,
        cnn_act: Activation | None = None,
    ) -> None:
        super().__init__()
        self.layout = layout
        self.symlog_targets = symlog_targets
        self.cnn = (
            ConvDecoder(feat_dim, layout.image_shape, depth, norm, cnn_act or act) if layout.image_shape is not None else None
        )
        self.mlp = MLP(feat_dim, layout.vector_dim, units, layers, norm, act) if layout.vector_keys else None

    def loss(self, feat: th.Tensor, obs: dict[str, th.Tensor], images: th.Tensor | None = None) -> dict[str, th.Tensor]:
        """Negative log-likelihood per time step for the ``image`` and ``vector`` parts (``images``: the
        preprocessed image targets, by default ``obs``'s images mapped to ``[-0.5, 0.5]``)."""
        batch_dims = feat.dim() - 1
        out: dict[str, th.Tensor] = {}
        if self.cnn is not None:
            target = preprocess_images(obs, self.layout) if images is None else images
            pred = self.cnn(feat)
            out["image"] = ((pred.float() - target) ** 2).sum((-3, -2, -1))
        if self.mlp is not None:
            target = preprocess_vectors(obs, self.layout, batch_dims)
            if self.symlog_targets:
                target = symlog(target)
            pred = self.mlp(feat)
            out["vector"] = ((pred.float() - target) ** 2).sum(-1)
        return out

    def predict(self, feat: th.Tensor) -> dict[str, th.Tensor]:
        """Reconstructions in observation units (images uint8-range floats, vectors un-symlogged)."""
        from dreamer_sb3.common.distributions import symexp

        out: dict[str, th.Tensor] = {}
        if self.cnn is not None:
            out["image"] = ((self.cnn(feat).float() + 0.5) * 255.0).clamp(0, 255)
        if self.mlp is not None:
            vec = self.mlp(feat).float()
            out["vector"] = symexp(vec) if self.symlog_targets else vec
        return out
