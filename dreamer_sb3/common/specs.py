"""Small typed specs that group the world model's settings, so constructors take objects, not scalars.

:class:`DreamerPolicy` turns its flat ``policy_kwargs`` (the user-facing names, resolved against
:mod:`dreamer_sb3.common.sizes`) into these three objects once; :class:`WorldModel`, :class:`RSSM`
and the heads read them. A new world-model option is a field here, a keyword of
:class:`DreamerPolicy`, and the line that uses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Activation = Literal["silu", "elu", "relu", "tanh"]
ScalarHeadKind = Literal["twohot", "mse"]
ActorDist = Literal["bounded_normal", "tanh_normal", "trunc_normal"]
#: the normalisation after each hidden layer: ``"layer"`` or ``True`` (LayerNorm, eps 1e-3: DreamerV2 and V3's
#: 2023 release), ``"rms"`` (RMSNorm with a scale, eps 1e-4: V3's current code), ``False`` (none: PlaNet, V1)
Norm = bool | Literal["layer", "rms"]
#: the weight initialiser of every linear / conv layer (see :class:`~dreamer_sb3.common.policies.DreamerPolicy`)
WeightInit = Literal["xavier_uniform", "trunc_normal_in"]


@dataclass(frozen=True)
class NetSpec:
    """Width, depth and block type of every MLP and CNN of an agent.

    :param units: MLP width
    :param layers: MLP hidden layers (encoder, decoder, heads, actor, critic)
    :param cnn_depth: CNN channel multiplier
    :param norm: the normalisation after every hidden linear / conv layer (:data:`Norm`)
    :param act: activation
    :param cnn_act: activation of the image encoder's and decoder's convolutions; ``None``: ``act``
        (DreamerV1 uses ReLU there and ELU elsewhere)
    """

    units: int
    layers: int
    cnn_depth: int
    norm: Norm = True
    act: Activation = "silu"
    cnn_act: Activation | None = None


@dataclass(frozen=True)
class LatentSpec:
    """The RSSM's latent state.

    :param deter: GRU state size
    :param hidden: width of the layers around the GRU
    :param stoch: stochastic variables (categorical) or dimensions (Gaussian)
    :param classes: classes per categorical variable; ``0`` selects a Gaussian latent
    :param unimix: uniform mixture of the categorical latents
    :param min_std: lower bound of the Gaussian latent's std
    :param learned_init: learn the initial deterministic state instead of zeros
    :param gru_norm: the normalisation inside the GRU (:data:`Norm`); ``None`` follows :attr:`NetSpec.norm`
    :param blocks: ``0``: the dense GRU of DreamerV2 and V3's 2023 release; ``> 0``: the current DreamerV3 code's
        block GRU with this many blocks (:class:`~dreamer_sb3.common.rssm.BlockGRUCore`; official 8)
    :param img_layers: hidden layers of the prior (official current: 2; 2023: 1)
    :param dyn_layers: block-diagonal hidden layers of the block GRU (official: 1)
    """

    deter: int
    hidden: int
    stoch: int
    classes: int
    unimix: float = 0.01
    min_std: float = 0.1
    learned_init: bool = True
    gru_norm: Norm | None = None
    blocks: int = 0
    img_layers: int = 1
    dyn_layers: int = 1


@dataclass(frozen=True)
class HeadSpec:
    """What the world model predicts and how.

    :param symlog_obs: symlog vector inputs and symlog-MSE vector reconstruction (DreamerV3)
    :param reward_head: ``"twohot"`` (DreamerV3) or ``"mse"`` (unit Gaussian)
    :param cont_head: learn a continue (discount) head
    :param decoder: learn the observation decoder
    :param num_bins: bins of the two-hot heads
    :param reward_layers: hidden layers of the reward head; ``None``: :attr:`NetSpec.layers`
    :param cont_layers: hidden layers of the continue head; ``None``: :attr:`NetSpec.layers`
    :param image_bits: bit depth images are quantised to before the encoder and as the decoder's target, with
        uniform dequantisation noise in the loss (PlaNet: 5); 8 keeps them as they are
    """

    symlog_obs: bool = True
    reward_head: ScalarHeadKind = "twohot"
    cont_head: bool = True
    decoder: bool = True
    num_bins: int = 255
    reward_layers: int | None = None
    cont_layers: int | None = None
    image_bits: int = 8
