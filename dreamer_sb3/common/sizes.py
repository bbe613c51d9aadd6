"""Model sizes: the one table every algorithm picks its architecture from.

``XS``–``XL`` are the sizes of the DreamerV3 paper's 2023 release (GRU units, CNN multiplier, MLP units and
layers; 32×32 categorical latents). ``1M``–``400M`` are the current official code's (``configs.yaml size1m`` ...
``size400m``): a block GRU of 8 blocks (``blocks``), a 2-layer prior (``img_layers``), 3-layer encoder, decoder,
actor and critic, 1-layer reward and continue heads, 32 latents of ``classes`` classes each. ``S`` equals the
widely used PyTorch port's vision default (deter 512, hidden 512, units 512, CNN depth 32). ``tiny`` is a CPU size
for classic control and tests. ``planet``, ``v1`` and ``v2`` (``v2-dmc``: its DMC setting) are the original papers'
architectures.

A row may give a head its own depth (``reward_layers``, ``cont_layers``, ``actor_layers``, ``critic_layers``);
a head a row does not name has ``layers`` hidden layers (:func:`resolve_size` fills them in).
"""

from __future__ import annotations

from typing import Literal, get_args

#: the names of :data:`MODEL_SIZES`
ModelSize = Literal[
    "tiny", "XS", "S", "M", "L", "XL", "1M", "12M", "25M", "50M", "100M", "200M", "400M", "planet", "v1", "v2", "v2-dmc"
]

MODEL_SIZES: dict[str, dict[str, int]] = {
    "tiny": dict(deter=128, hidden=128, stoch=16, classes=16, units=128, layers=1, cnn_depth=16),
    "XS": dict(deter=256, hidden=256, stoch=32, classes=32, units=256, layers=1, cnn_depth=24),
    "S": dict(deter=512, hidden=512, stoch=32, classes=32, units=512, layers=2, cnn_depth=32),
    "M": dict(deter=1024, hidden=640, stoch=32, classes=32, units=640, layers=3, cnn_depth=48),
    "L": dict(deter=2048, hidden=768, stoch=32, classes=32, units=768, layers=4, cnn_depth=64),
    "XL": dict(deter=4096, hidden=1024, stoch=32, classes=32, units=1024, layers=5, cnn_depth=96),
    # The current official code's table (configs.yaml size1m ... size400m; rssm deter / hidden / classes, depth,
    # units); every size has the block GRU (8 blocks, 1 block layer), a 2-layer prior and the heads' depths of
    # configs.yaml agent (enc / dec / policy / value 3 layers, rewhead / conhead 1)
    **{
        name: dict(
            deter=deter,
            hidden=hidden,
            stoch=32,
            classes=classes,
            units=units,
            layers=3,
            cnn_depth=depth,
            reward_layers=1,
            cont_layers=1,
            blocks=8,
            img_layers=2,
            dyn_layers=1,
        )
        for name, deter, hidden, classes, depth, units in (
            ("1M", 512, 64, 4, 4, 64),
            ("12M", 2048, 256, 16, 16, 256),
            ("25M", 3072, 384, 24, 24, 384),
            ("50M", 4096, 512, 32, 32, 512),
            ("100M", 6144, 768, 48, 48, 768),
            ("200M", 8192, 1024, 64, 64, 1024),
            ("400M", 12288, 1536, 96, 96, 1536),
        )
    },
    # Original architectures of the earlier papers (Gaussian latents: classes=0).
    # PlaNet's reward head: 3 x 300 (planet/scripts/configs.py: num_layers=3, num_units=300)
    "planet": dict(deter=200, hidden=200, stoch=30, classes=0, units=300, layers=2, cnn_depth=32, reward_layers=3),
    # DreamerV1's heads (dreamer.py: reward 2, pcont 3, value 3, actor 4 layers of 400)
    "v1": dict(
        deter=200,
        hidden=200,
        stoch=30,
        classes=0,
        units=400,
        layers=3,
        cnn_depth=32,
        reward_layers=2,
        cont_layers=3,
        critic_layers=3,
        actor_layers=4,
    ),
    "v2": dict(deter=600, hidden=600, stoch=32, classes=32, units=400, layers=4, cnn_depth=48),
    "v2-dmc": dict(deter=200, hidden=200, stoch=32, classes=32, units=400, layers=4, cnn_depth=48),  # V2's DMC config
}

assert set(get_args(ModelSize)) == set(MODEL_SIZES), "ModelSize must name every entry of MODEL_SIZES"

SIZE_KEYS = ("deter", "hidden", "stoch", "classes", "units", "layers", "cnn_depth", "blocks", "img_layers", "dyn_layers")
#: the recurrent core's keys and their value in a row that does not name them (the dense GRU, a 1-layer prior)
CORE_DEFAULTS = {"blocks": 0, "img_layers": 1, "dyn_layers": 1}
#: per-head depths a row or an override may give (``layers`` when absent)
HEAD_LAYER_KEYS = ("reward_layers", "cont_layers", "actor_layers", "critic_layers")


def resolve_size(name: str, **overrides: int | None) -> dict[str, int]:
    """Architecture for preset ``name`` with explicit (non-``None``) overrides applied.

    :raises ValueError: for an unknown preset or override key
    """
    if name not in MODEL_SIZES:
        raise ValueError(f"Unknown model size {name!r}; choose one of {list(MODEL_SIZES)}")
    unknown = set(overrides) - set(SIZE_KEYS) - set(HEAD_LAYER_KEYS)
    if unknown:
        raise ValueError(f"Unknown size keys {sorted(unknown)}; valid keys are {SIZE_KEYS + HEAD_LAYER_KEYS}")
    size = dict(MODEL_SIZES[name])
    size.update({k: int(v) for k, v in overrides.items() if v is not None})
    for key in HEAD_LAYER_KEYS:
        size.setdefault(key, size["layers"])
    for key, value in CORE_DEFAULTS.items():
        size.setdefault(key, value)
    return size
