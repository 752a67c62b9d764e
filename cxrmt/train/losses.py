"""Losses of eq. (3) and (4) and the reconstruction terms of each head.

All return per-replica means; the trainer divides by the number of replicas so that the
all-reduce sum of gradients equals the gradient of the global-batch mean.
"""

import numpy as np
from keras import ops

EPS = 1e-12  # the epsilon of eq. (3) and (4)
LOG_EPS = float(np.log(EPS))


def _log_p_eps(logits):
    """log(sigmoid(z) + eps), computed as logaddexp(log sigmoid(z), log eps): the paper's
    expression without the float32 cancellation of 1 - D_F + eps when D_F rounds to 1."""
    z = ops.cast(logits, "float32")
    return ops.logaddexp(ops.log_sigmoid(z), LOG_EPS)


def generator_adversarial(fake_logits):
    """Eq. (3), adversarial term: E[-log(D_F + eps)], D_F = sigmoid(discriminator logits)."""
    return ops.mean(-_log_p_eps(fake_logits))


def discriminator_loss(real_logits, fake_logits):
    """Eq. (4): E[-(log(D_R + eps) + log(1 - D_F + eps))]; 1 - sigmoid(z) = sigmoid(-z)."""
    return ops.mean(-(_log_p_eps(real_logits) + _log_p_eps(-ops.cast(fake_logits, "float32"))))


def l1(y, y_hat):
    return ops.mean(ops.abs(y - y_hat))


def seg_bce(y, logits):
    """Binary cross-entropy of organ channels on the logits z. The output is tanh(z) and
    (tanh(z) + 1) / 2 = sigmoid(2z), so the decision 'channel > 0' is 'sigmoid(2z) > 0.5'."""
    t = (y + 1.0) * 0.5
    s = 2.0 * logits
    # Stable form of -t log sigmoid(s) - (1 - t) log(1 - sigmoid(s)).
    return ops.mean(ops.maximum(s, 0.0) - s * t + ops.log1p(ops.exp(-ops.abs(s))))


def reconstruction(y, y_hat, logits, seg_channels: int, seg_loss: str):
    """Supervised term: the mean over output channels of L1 (paper) or, for the organ channels
    when seg_loss == 'bce', the binary cross-entropy on the logits."""
    if seg_loss == "l1" or seg_channels == 0:
        return l1(y, y_hat)
    k, c = seg_channels, y.shape[-1]
    seg = seg_bce(y[..., :k], ops.cast(logits[..., :k], "float32"))
    if c == k:
        return seg
    return (k * seg + (c - k) * l1(y[..., k:], y_hat[..., k:])) / c
