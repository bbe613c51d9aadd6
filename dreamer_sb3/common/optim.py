"""The optimisers of the Dreamer family: Adam (PlaNet, V1, V2, DreamerV3's 2023 release) and LaProp with adaptive
gradient clipping and a linear learning-rate warm-up (DreamerV3's current official code).

The current official optimiser (danijar/dreamerv3 ``agent.py _make_opt`` and ``embodied/jax/opt.py``) is a chain,
applied to each parameter tensor on its own:

1. adaptive gradient clipping: ``g <- g / max(1, |g| / (agc * max(pmin, |w|)))`` with the L2 norms of the
   tensor's gradient ``g`` and weights ``w`` (``agc`` 0.3, ``pmin`` 1e-3);
2. RMS scaling: ``v <- b2 v + (1 - b2) g^2``, ``u = g / (sqrt(v / (1 - b2^t)) + eps)`` (``b2`` 0.999,
   ``eps`` 1e-20);
3. momentum of the scaled gradient: ``m <- b1 m + (1 - b1) u``, step ``m / (1 - b1^t)`` (``b1`` 0.9) -- LaProp
   (Ziyin et al., 2020) is Adam with the momentum taken after the division;
4. the learning rate, ramped linearly from 0 over the first ``warmup`` steps (1000): step ``t`` (from 1) uses
   ``lr * min(1, (t - 1) / warmup)``, so the first step moves nothing.

Every step of the chain is per tensor, so one :class:`LaProp` over all modules and one per module at the same
settings take the same steps: the official code's single optimiser is our three (world model, actor, critic)
with one learning rate.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import torch as th
from torch import nn

#: the optimisers a :class:`~dreamer_sb3.common.policies.DreamerPolicy` can build
OptimizerKind = Literal["adam", "laprop"]


class LaProp(th.optim.Optimizer):
    """LaProp with adaptive gradient clipping and a linear warm-up, as the current DreamerV3 code steps its weights.

    ``lr`` is the learning rate after the warm-up (SB3's learning-rate schedule sets it each update; the warm-up
    multiplies it). See the module docstring for the exact update.

    :param params: parameters or parameter groups
    :param lr: learning rate
    :param betas: ``(b1, b2)``: momentum of the scaled gradient and decay of its second moment
    :param eps: added to the root of the second moment
    :param agc: adaptive gradient clipping: the largest gradient norm of a tensor relative to its weights' norm
        (``0``: no clipping)
    :param agc_pmin: the smallest weight norm the clipping measures against (a zero-initialised tensor still moves)
    :param warmup: steps of the linear learning-rate warm-up from 0 (``0``: none)
    :param weight_decay: decoupled weight decay, ``w <- (1 - weight_decay) w`` before each step (the official
        default is 0)
    """

    def __init__(
        self,
        params: Iterable[nn.Parameter] | Iterable[dict[str, Any]],
        lr: float = 4e-5,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-20,
        agc: float = 0.3,
        agc_pmin: float = 1e-3,
        warmup: int = 1000,
        weight_decay: float = 0.0,
    ) -> None:
        if lr < 0:
            raise ValueError(f"LaProp lr must be >= 0, got {lr}")
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"LaProp betas must lie in [0, 1), got {betas}")
        if eps < 0 or agc < 0 or agc_pmin <= 0 or warmup < 0 or weight_decay < 0:
            raise ValueError(
                f"LaProp needs eps >= 0, agc >= 0, agc_pmin > 0, warmup >= 0 and weight_decay >= 0; got eps={eps}, "
                f"agc={agc}, agc_pmin={agc_pmin}, warmup={warmup}, weight_decay={weight_decay}"
            )
        defaults = dict(lr=lr, betas=betas, eps=eps, agc=agc, agc_pmin=agc_pmin, warmup=warmup, weight_decay=weight_decay)
        super().__init__(params, defaults)

    @th.no_grad()
    def step(self, closure: Any = None) -> Any:
        """One update of every parameter that has a gradient.

        :param closure: re-evaluates the model and returns the loss (optional, as in every torch optimiser)
        :return: the closure's loss, or ``None``
        """
        loss = None
        if closure is not None:
            with th.enable_grad():
                loss = closure()
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for w in group["params"]:
                if w.grad is None:
                    continue
                grad = w.grad.float()
                state = self.state[w]
                if not state:
                    state["step"] = 0
                    state["nu"] = th.zeros_like(w, dtype=th.float32)
                    state["mu"] = th.zeros_like(w, dtype=th.float32)
                state["step"] += 1
                t = state["step"]
                if group["agc"] > 0:
                    upper = group["agc"] * th.clamp(th.linalg.vector_norm(w.float()), min=group["agc_pmin"])
                    grad = grad / th.clamp(th.linalg.vector_norm(grad) / upper, min=1.0)
                nu, mu = state["nu"], state["mu"]
                nu.mul_(b2).addcmul_(grad, grad, value=1.0 - b2)
                scaled = grad / ((nu / (1.0 - b2**t)).sqrt_() + group["eps"])
                mu.mul_(b1).add_(scaled, alpha=1.0 - b1)
                lr = group["lr"] * (min(1.0, (t - 1) / group["warmup"]) if group["warmup"] > 0 else 1.0)
                if group["weight_decay"] > 0:
                    w.mul_(1.0 - group["weight_decay"])
                w.add_((mu / (1.0 - b1**t)).to(w.dtype), alpha=-lr)
        return loss


def make_optimizer(
    kind: OptimizerKind,
    params: Iterable[nn.Parameter],
    lr: float,
    eps: float,
    weight_decay: float = 0.0,
    agc: float = 0.3,
    warmup: int = 1000,
) -> th.optim.Optimizer:
    """The optimiser of one module group (world model, actor or critic).

    ``"adam"``: Adam, or with ``weight_decay > 0`` DreamerV2's decoupled decay ``w <- (1 - weight_decay) w`` before
    each step as ``AdamW`` with decay ``weight_decay / lr`` (AdamW multiplies it by the learning rate). A learning
    rate of 0 (rl-zoo3's ``enjoy`` loads agents with ``learning_rate=0``: nothing is trained) gets ``AdamW``
    without decay, so the optimiser's state and structure still match a saved one.

    ``"laprop"``: :class:`LaProp` with adaptive gradient clipping ``agc`` and a ``warmup``-step warm-up.

    :raises ValueError: for an unknown kind or a negative weight decay
    """
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
    if kind == "laprop":
        return LaProp(params, lr=lr, eps=eps, agc=agc, warmup=warmup, weight_decay=weight_decay)
    if kind != "adam":
        raise ValueError(f"optimizer must be 'adam' or 'laprop', got {kind!r}")
    if weight_decay > 0:
        return th.optim.AdamW(params, lr=lr, eps=eps, weight_decay=weight_decay / lr if lr > 0 else 0.0)
    return th.optim.Adam(params, lr=lr, eps=eps)
