"""Distributions and transforms shared by the Dreamer family.

Everything here is pure tensor maths with no learnable state, so it can be tested against
hand-computed references: ``symlog``/``symexp``, the two-hot discrete regression used by
DreamerV3's reward and critic heads, categorical latents with uniform mixing and
straight-through gradients, Gaussian latents, bounded / tanh-Gaussian actors and the
KL terms (free bits, KL balancing).

Every head of the family returns one of these distributions; two small protocols say what a
caller may use: :class:`ScalarDistribution` (reward, critic and continue heads: ``mean``,
``mode()``, ``log_prob``) and :class:`ActionDistribution` (the actor: ``mode()``, ``rsample()``,
``log_prob``, ``entropy()``).
"""

from __future__ import annotations

import math
from typing import Literal, Protocol, runtime_checkable

import torch as th
import torch.nn.functional as F


@runtime_checkable
class ScalarDistribution(Protocol):
    """What a reward, critic or continue head returns."""

    @property
    def mean(self) -> th.Tensor:
        """Expected value, shape of the batch."""
        ...

    def mode(self) -> th.Tensor:
        """Most likely value (the mean for the regression heads, 0/1 for the continue head)."""
        ...

    def log_prob(self, x: th.Tensor) -> th.Tensor:
        """Log-likelihood of targets ``x`` (up to a constant for the regression heads)."""
        ...


@runtime_checkable
class ActionDistribution(Protocol):
    """What the actor returns, over model-space action vectors ``(..., A)``."""

    def mode(self) -> th.Tensor:
        """The deterministic action."""
        ...

    def rsample(self) -> th.Tensor:
        """A sample with reparameterised or straight-through gradients."""
        ...

    def log_prob(self, x: th.Tensor) -> th.Tensor:
        """Log-likelihood of actions ``x``, summed over the action dimensions."""
        ...

    def entropy(self) -> th.Tensor:
        """Entropy (or a one-sample estimate of it), summed over the action dimensions."""
        ...


# ---------------------------------------------------------------------------------------------
# symlog / symexp
# ---------------------------------------------------------------------------------------------


def symlog(x: th.Tensor) -> th.Tensor:
    """``sign(x) * log(1 + |x|)``: compresses large magnitudes, identity-like near zero."""
    return th.sign(x) * th.log1p(th.abs(x))


def symexp(x: th.Tensor) -> th.Tensor:
    """Inverse of :func:`symlog`: ``sign(x) * (exp(|x|) - 1)``."""
    return th.sign(x) * th.expm1(th.abs(x))


# ---------------------------------------------------------------------------------------------
# Two-hot discrete regression (DreamerV3 reward and critic)
# ---------------------------------------------------------------------------------------------


def symexp_bins(num_bins: int = 255, low: float = -20.0, high: float = 20.0) -> th.Tensor:
    """Bin centres spaced uniformly in symlog space, i.e. ``symexp(linspace(low, high, n))``."""
    bins = symexp(th.linspace(low, high, num_bins, dtype=th.float64))
    if low == -high:  # make symmetric bins exactly antisymmetric (the centre bin exactly 0)
        bins = (bins - bins.flip(0)) / 2
    return bins.float()


def _twohot_parts(x: th.Tensor, bins: th.Tensor) -> tuple[th.Tensor, th.Tensor, th.Tensor, th.Tensor]:
    """Indices and weights of the two bins around ``x``: ``(below, above, w_below, w_above)``."""
    x = x.float().contiguous()
    k = bins.shape[0]
    above = th.searchsorted(bins, x, right=True).clamp(1, k - 1)  # first bin > x (edges clamped)
    below = above - 1
    b_lo, b_hi = bins[below], bins[above]
    w_hi = ((x - b_lo) / (b_hi - b_lo)).clamp(0.0, 1.0)  # clamping puts outside values on the edge bin
    return below, above, 1.0 - w_hi, w_hi


def twohot_encode(x: th.Tensor, bins: th.Tensor) -> th.Tensor:
    """Encode scalars as two-hot vectors over sorted ``bins``.

    The weight is split between the two neighbouring bins so that ``(twohot * bins).sum(-1)``
    recovers ``x`` exactly inside the bin range; values outside the range put all weight on the
    closest edge bin.

    :param x: values of any shape ``S``
    :param bins: sorted bin centres, shape ``(K,)``
    :return: two-hot weights of shape ``S + (K,)``
    """
    below, above, w_lo, w_hi = _twohot_parts(x, bins)
    out = th.zeros(*x.shape, bins.shape[0], device=x.device)
    out.scatter_(-1, below[..., None], w_lo[..., None])
    out.scatter_add_(-1, above[..., None], w_hi[..., None])
    return out


class TwoHotDist:
    """Categorical over fixed bins, read as a scalar distribution (DreamerV3's ``symexp_twohot``).

    :param logits: unnormalised log-probabilities, shape ``S + (K,)``
    :param bins: bin centres, shape ``(K,)``, symmetric around zero
    """

    def __init__(self, logits: th.Tensor, bins: th.Tensor) -> None:
        self.logits = logits.float()
        self.bins = bins
        self.log_probs = F.log_softmax(self.logits, dim=-1)

    @property
    def mean(self) -> th.Tensor:
        """Expected value. Symmetric bins are summed pairwise so that a uniform distribution
        gives exactly zero (large bins would otherwise cancel with float32 round-off)."""
        probs = self.log_probs.exp()
        k = self.bins.shape[0]
        m = k // 2
        if k % 2 == 1:
            # bins[m] == 0 for symmetric odd bins; pair bins[m+1+i] with bins[m-1-i]
            hi = probs[..., m + 1 :]
            lo = probs[..., :m].flip(-1)
            return ((hi - lo) * self.bins[m + 1 :]).sum(-1) + probs[..., m] * self.bins[m]
        return (probs * self.bins).sum(-1)

    def mode(self) -> th.Tensor:
        return self.mean

    def log_prob(self, target: th.Tensor) -> th.Tensor:
        """Log-likelihood of ``target`` under the two-hot cross-entropy, ``sum(twohot(target) * log p)``,
        computed by gathering the two non-zero bins instead of materialising the two-hot vector."""
        below, above, w_lo, w_hi = _twohot_parts(target, self.bins)
        lp_lo = self.log_probs.gather(-1, below[..., None])[..., 0]
        lp_hi = self.log_probs.gather(-1, above[..., None])[..., 0]
        return w_lo * lp_lo + w_hi * lp_hi


class MSEDist:
    """Unit-variance Gaussian over a scalar: ``log_prob = -0.5 (x - mean)^2 - 0.5 log(2 pi)``."""

    def __init__(self, mean: th.Tensor) -> None:
        self._mean = mean.float()

    @property
    def mean(self) -> th.Tensor:
        return self._mean

    def mode(self) -> th.Tensor:
        return self._mean

    def log_prob(self, x: th.Tensor) -> th.Tensor:
        return -0.5 * (x - self._mean) ** 2 - 0.5 * math.log(2 * math.pi)


class BernoulliDist:
    """Bernoulli over ``{0, 1}`` from logits: the continue (discount) head.

    ``mean`` is the probability of continuing, ``mode()`` the hard 0/1 flag (``logits > 0``), and
    ``log_prob`` the negative binary cross-entropy of (possibly soft) targets in ``[0, 1]``.
    """

    def __init__(self, logits: th.Tensor) -> None:
        self.logits = logits.float()

    @property
    def mean(self) -> th.Tensor:
        return th.sigmoid(self.logits)

    def mode(self) -> th.Tensor:
        return (self.logits > 0).float()

    def log_prob(self, x: th.Tensor) -> th.Tensor:
        return -F.binary_cross_entropy_with_logits(self.logits, x.float(), reduction="none")


# ---------------------------------------------------------------------------------------------
# Categorical latents / discrete actions
# ---------------------------------------------------------------------------------------------


def unimix_logits(logits: th.Tensor, unimix: float) -> th.Tensor:
    """Mix a categorical with ``unimix`` of the uniform distribution and return log-probs.

    Every class keeps at least probability ``unimix / K``, which keeps KL terms bounded.
    """
    if unimix <= 0.0:
        return F.log_softmax(logits, dim=-1)
    probs = F.softmax(logits.float(), dim=-1)
    probs = (1.0 - unimix) * probs + unimix / probs.shape[-1]
    return th.log(probs)


def sample_onehot(probs: th.Tensor) -> th.Tensor:
    """One-hot samples from ``probs`` (last axis) by inverse-CDF: one uniform draw per variable,
    compared against the cumulative probabilities (cheaper than ``multinomial`` + ``one_hot``)."""
    cdf = probs.float().cumsum(-1)
    u = th.rand_like(cdf[..., :1]) * cdf[..., -1:]
    above = (cdf > u).float()
    return th.diff(above, dim=-1, prepend=th.zeros_like(above[..., :1]))


def mode_onehot(probs: th.Tensor) -> th.Tensor:
    """One-hot of the most likely class."""
    return F.one_hot(probs.argmax(-1), probs.shape[-1]).to(probs.dtype)


class OneHotDist:
    """One-hot categorical with straight-through gradients on samples.

    :param logits: log-probabilities (already mixed if unimix is wanted), shape ``S + (K,)``
    """

    def __init__(self, logits: th.Tensor) -> None:
        self.logits = logits
        self.log_probs = F.log_softmax(logits.float(), dim=-1)
        self.probs = self.log_probs.exp()

    def rsample(self) -> th.Tensor:
        """One-hot sample whose gradient is that of the probabilities (straight-through)."""
        return sample_onehot(self.probs) + self.probs - self.probs.detach()

    def mode(self) -> th.Tensor:
        return mode_onehot(self.probs) + self.probs - self.probs.detach()

    def log_prob(self, onehot: th.Tensor) -> th.Tensor:
        return (onehot * self.log_probs).sum(-1)

    def entropy(self) -> th.Tensor:
        return -(self.probs * self.log_probs).sum(-1)


class MultiOneHot:
    """Independent one-hot categoricals over consecutive segments of one action vector (MultiDiscrete)."""

    def __init__(self, dists: list[OneHotDist], sizes: list[int]) -> None:
        self.dists, self.sizes = dists, sizes

    def rsample(self) -> th.Tensor:
        return th.cat([d.rsample() for d in self.dists], -1)

    def mode(self) -> th.Tensor:
        return th.cat([d.mode() for d in self.dists], -1)

    def log_prob(self, x: th.Tensor) -> th.Tensor:
        parts = x.split(self.sizes, -1)
        total = self.dists[0].log_prob(parts[0])
        for dist, part in zip(self.dists[1:], parts[1:]):
            total = total + dist.log_prob(part)
        return total

    def entropy(self) -> th.Tensor:
        total = self.dists[0].entropy()
        for dist in self.dists[1:]:
            total = total + dist.entropy()
        return total


def categorical_kl(lhs_logits: th.Tensor, rhs_logits: th.Tensor) -> th.Tensor:
    """KL(lhs || rhs) between categoricals given as log-probs, summed over the last two axes
    (variables × classes) of a ``(..., stoch, classes)`` latent."""
    lhs = F.log_softmax(lhs_logits.float(), -1)
    rhs = F.log_softmax(rhs_logits.float(), -1)
    return (lhs.exp() * (lhs - rhs)).sum((-2, -1))


# ---------------------------------------------------------------------------------------------
# Gaussian latents / continuous actions
# ---------------------------------------------------------------------------------------------


def gaussian_kl(mean_l: th.Tensor, std_l: th.Tensor, mean_r: th.Tensor, std_r: th.Tensor) -> th.Tensor:
    """KL between diagonal Gaussians, summed over the last axis."""
    mean_l, std_l, mean_r, std_r = mean_l.float(), std_l.float(), mean_r.float(), std_r.float()
    var_ratio = (std_l / std_r) ** 2
    t1 = ((mean_l - mean_r) / std_r) ** 2
    return 0.5 * (var_ratio + t1 - 1.0 - th.log(var_ratio)).sum(-1)


class BoundedNormal:
    """DreamerV3's continuous actor: ``Normal(tanh(mean), std)`` with std in ``[min_std, max_std]``.

    Samples are clipped to ``[-1, 1]`` with straight-through gradients when used as actions.
    """

    def __init__(self, mean: th.Tensor, std: th.Tensor) -> None:
        self.mean = mean.float()
        self.std = std.float()

    def rsample(self) -> th.Tensor:
        x = self.mean + self.std * th.randn_like(self.mean)
        return x + (x.clamp(-1.0, 1.0) - x).detach()

    def mode(self) -> th.Tensor:
        return self.mean

    def log_prob(self, x: th.Tensor) -> th.Tensor:
        var = self.std**2
        return (-((x - self.mean) ** 2) / (2 * var) - th.log(self.std) - 0.5 * math.log(2 * math.pi)).sum(-1)

    def entropy(self) -> th.Tensor:
        return (0.5 + 0.5 * math.log(2 * math.pi) + th.log(self.std)).sum(-1)


class TanhNormal:
    """DreamerV1's continuous actor: ``tanh`` of a Gaussian, with the change-of-variables
    correction ``log p(a) = log N(u) - sum log(1 - tanh(u)^2)``.

    The mode is estimated as ``tanh(mean)``; the entropy by a one-sample estimate (as in V1).
    """

    def __init__(self, mean: th.Tensor, std: th.Tensor) -> None:
        self.mean = mean.float()
        self.std = std.float()

    def rsample(self) -> th.Tensor:
        return th.tanh(self.mean + self.std * th.randn_like(self.mean))

    def mode(self) -> th.Tensor:
        return th.tanh(self.mean)

    @staticmethod
    def _log_det(u: th.Tensor) -> th.Tensor:
        # log(1 - tanh(u)^2) computed stably
        return 2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))

    def log_prob(self, a: th.Tensor) -> th.Tensor:
        a = a.clamp(-1 + 1e-6, 1 - 1e-6)
        u = th.atanh(a)
        base = (-((u - self.mean) ** 2) / (2 * self.std**2) - th.log(self.std) - 0.5 * math.log(2 * math.pi)).sum(-1)
        return base - self._log_det(u).sum(-1)

    def entropy(self) -> th.Tensor:
        u = self.mean + self.std * th.randn_like(self.mean)
        base = (0.5 + 0.5 * math.log(2 * math.pi) + th.log(self.std)).sum(-1)
        return base + self._log_det(u).sum(-1)


class TruncNormal:
    """DreamerV2's continuous actor: a normal with mean ``loc`` and std ``scale`` truncated to ``[-1, 1]``.

    Samples are reparameterised through the inverse CDF (``u ~ U(Φ(α), Φ(β))``, ``x = loc + scale Φ⁻¹(u)``) and, as
    V2's ``TruncNormalDist(clip=1e-6)``, clipped to ``[-1 + 1e-6, 1 - 1e-6]`` with straight-through gradients. The
    mode is ``clip(loc, -1, 1)``; entropy and log-probability are the truncated normal's, summed over dimensions.
    """

    low, high, clip = -1.0, 1.0, 1e-6

    def __init__(self, loc: th.Tensor, scale: th.Tensor) -> None:
        self.loc = loc.float()
        self.scale = scale.float()
        self.alpha = (self.low - self.loc) / self.scale
        self.beta = (self.high - self.loc) / self.scale
        self.cdf_alpha = _std_normal_cdf(self.alpha)
        self.mass = (_std_normal_cdf(self.beta) - self.cdf_alpha).clamp(min=1e-12)

    def rsample(self) -> th.Tensor:
        u = self.cdf_alpha + th.rand_like(self.loc) * self.mass
        u = u.clamp(1e-7, 1.0 - 1e-7)
        x = self.loc + self.scale * math.sqrt(2.0) * th.erfinv(2.0 * u - 1.0)
        return x + (x.clamp(self.low + self.clip, self.high - self.clip) - x).detach()

    def mode(self) -> th.Tensor:
        return self.loc.clamp(self.low, self.high)

    def log_prob(self, x: th.Tensor) -> th.Tensor:
        z = (x - self.loc) / self.scale
        return (-0.5 * z**2 - 0.5 * math.log(2 * math.pi) - th.log(self.scale) - th.log(self.mass)).sum(-1)

    def entropy(self) -> th.Tensor:
        pdf_a = th.exp(-0.5 * self.alpha**2) / math.sqrt(2 * math.pi)
        pdf_b = th.exp(-0.5 * self.beta**2) / math.sqrt(2 * math.pi)
        ent = (
            0.5 * math.log(2 * math.pi * math.e)
            + th.log(self.scale)
            + th.log(self.mass)
            + (self.alpha * pdf_a - self.beta * pdf_b) / (2.0 * self.mass)
        )
        return ent.sum(-1)


def _std_normal_cdf(x: th.Tensor) -> th.Tensor:
    return 0.5 * (1.0 + th.erf(x / math.sqrt(2.0)))


# ---------------------------------------------------------------------------------------------
# KL regulariser of the world model
# ---------------------------------------------------------------------------------------------


FreeNatsMode = Literal["step", "batch"]


def _free(kl: th.Tensor, free_nats: float, mode: FreeNatsMode) -> th.Tensor:
    """Free nats of one KL term ``(..)`` per time step: ``max(free, KL_t)`` (``"step"``), or per time step a term
    whose mean is ``max(free, mean KL)`` (``"batch"``: the KL itself when its batch mean is at least ``free``,
    else the constant ``free`` with no gradient, as DreamerV1 and DreamerV2's ``free_avg``)."""
    if mode == "step":
        return th.clamp(kl, min=free_nats)
    if mode == "batch":
        return th.where(kl.mean() >= free_nats, kl, th.full_like(kl, free_nats))
    raise ValueError(f"free_nats_mode must be 'step' or 'batch', got {mode!r}")


def kl_loss(
    kl_fn,
    post: tuple[th.Tensor, ...],
    prior: tuple[th.Tensor, ...],
    free_nats: float,
    dyn_scale: float,
    rep_scale: float,
    free_nats_mode: FreeNatsMode = "step",
) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
    """World-model KL term with free bits and balancing, shared by every Dreamer.

    ``dyn = max(free, KL(sg(post) || prior))`` trains the prior, ``rep = max(free, KL(post || sg(prior)))``
    trains the representation; the loss is ``dyn_scale * dyn + rep_scale * rep``.

    - DreamerV3: free 1 nat per step, dyn 0.5, rep 0.1.
    - DreamerV2 KL balancing with alpha: dyn ``alpha``, rep ``1 - alpha`` (times the KL scale); free nats on the
      batch mean (``free_avg``).
    - PlaNet / DreamerV1: dyn = rep = 1 gives exactly the gradient of ``KL(post || prior)``; V1 applies the free
      nats to the batch mean, PlaNet per step.

    :param kl_fn: ``kl_fn(lhs_params..., rhs_params...)`` returning the KL per time step
    :param post: posterior distribution parameters (tuple of tensors)
    :param prior: prior distribution parameters
    :param free_nats_mode: ``"step"``: ``max(free, KL)`` per time step; ``"batch"``: ``max(free, mean KL)`` over
        the whole batch (returned per step so that its mean is that value)
    :return: ``(loss, dyn, rep)`` per time step (``dyn``/``rep`` before clipping, for logging)
    """
    dyn = kl_fn(*[p.detach() for p in post], *prior)
    rep = kl_fn(*post, *[p.detach() for p in prior])
    loss = dyn_scale * _free(dyn, free_nats, free_nats_mode) + rep_scale * _free(rep, free_nats, free_nats_mode)
    return loss, dyn, rep
