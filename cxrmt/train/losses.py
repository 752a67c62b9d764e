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


def soft_dice(y, logits, smooth=1.0):
    """1 - mean over images and organs of the soft Dice of sigmoid(2z) against the 0/1 target."""
    t = (y + 1.0) * 0.5
    p = ops.sigmoid(2.0 * logits)
    inter = ops.sum(p * t, axis=(1, 2))
    total = ops.sum(p, axis=(1, 2)) + ops.sum(t, axis=(1, 2))
    return 1.0 - ops.mean((2.0 * inter + smooth) / (total + smooth))


def gradient_l1(y, y_hat):
    """L1 between the horizontal and vertical finite differences of two images: penalises a
    blocky or grid-patterned bone layer that plain L1 lets through."""
    def diffs(a):
        return a[:, 1:, :, :] - a[:, :-1, :, :], a[:, :, 1:, :] - a[:, :, :-1, :]
    (dy, dx), (ey, ex) = diffs(y), diffs(y_hat)
    return 0.5 * (ops.mean(ops.abs(dy - ey)) + ops.mean(ops.abs(dx - ex)))


def reconstruction(y, y_hat, logits, seg_channels: int, seg_loss: str, edge: float = 0.0):
    """Supervised term: the mean over output channels of L1 (paper) or, for the organ channels
    when seg_loss is 'bce' or 'bce+dice', the binary cross-entropy on the logits (plus the soft
    Dice loss). `edge` adds that weight of gradient L1 to the bone channels' L1."""
    k, c = seg_channels, y.shape[-1]
    if seg_loss == "l1" or k == 0:
        rec = l1(y, y_hat)
        if edge and c > k:   # the bone channels' edge term, also under the paper's L1
            rec = rec + edge * (c - k) / c * gradient_l1(y[..., k:], y_hat[..., k:])
        return rec
    z = ops.cast(logits[..., :k], "float32")
    seg = seg_bce(y[..., :k], z)
    if seg_loss == "bce+dice":
        seg = seg + soft_dice(y[..., :k], z)
    if c == k:
        return seg
    bone = l1(y[..., k:], y_hat[..., k:])
    if edge:
        bone = bone + edge * gradient_l1(y[..., k:], y_hat[..., k:])
    return (k * seg + (c - k) * bone) / c
