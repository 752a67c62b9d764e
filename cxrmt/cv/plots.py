"""Figures of `cxrmt cv` as PNG (matplotlib, non-interactive Agg backend): box plots, best and
worst cases, loss curves. Imported only when a report is written."""

import math
import os

import matplotlib

matplotlib.use("Agg")  # no display: figures are files

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _finite(values) -> list:
    return [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]


def _save(fig, path) -> str:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def box_plots(path, panels: list, suptitle: str = "") -> str:
    """panels: [(title, {label: values})], one box per label; NaN/inf values are left out."""
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels) + 1, 3.6),
                             squeeze=False, layout="constrained")
    for ax, (title, groups) in zip(axes[0], panels):
        labels = list(groups)
        ax.boxplot([_finite(groups[k]) or [math.nan] for k in labels])
        ax.set_xticks(range(1, len(labels) + 1), labels, rotation=30, ha="right")
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(suptitle)
    return _save(fig, path)


def case_grid(path, rows: list, suptitle: str = "") -> str:
    """rows: [(row title, [(panel title, image or None)])]; RGB or grey uint8 images, None
    leaves the panel empty (a task the variant does not have)."""
    ncol = max(len(panels) for _, panels in rows)
    fig, axes = plt.subplots(len(rows), ncol, figsize=(2.4 * ncol, 2.6 * len(rows)),
                             squeeze=False)
    for axrow, (title, panels) in zip(axes, rows):
        for ax, (name, img) in zip(axrow, panels):
            ax.axis("off")
            ax.set_title(name, fontsize=8)
            if img is not None:
                ax.imshow(img, cmap="gray", vmin=0, vmax=255)
        axrow[0].text(-0.08, 0.5, title, transform=axrow[0].transAxes, rotation=90,
                      ha="right", va="center", fontsize=9)
    fig.suptitle(suptitle)
    return _save(fig, path)


def loss_curves(path, curves: dict) -> str:
    """curves: {network: {fold: {tag: [(step, value)]}}}; one row per network, one panel per
    tag it logged, one line per fold."""
    rows = {net: sorted({t for s in folds.values() for t in s}) for net, folds in curves.items()}
    ncol = max(len(tags) for tags in rows.values())
    fig, axes = plt.subplots(len(curves), ncol, figsize=(3.2 * ncol, 2.8 * len(curves)),
                             squeeze=False, layout="constrained")
    for axrow, (net, folds) in zip(axes, curves.items()):
        for ax in axrow[len(rows[net]):]:
            ax.axis("off")  # a network without a discriminator logs fewer losses
        for ax, tag in zip(axrow, rows[net]):
            for fold, series in sorted(folds.items()):
                if series.get(tag):
                    steps, values = zip(*series[tag])
                    ax.plot(steps, values, label=f"fold {fold}", lw=1)
            ax.set_title(f"{net}: {tag}", fontsize=9)
            ax.set_xlabel("step", fontsize=8)
            ax.grid(alpha=0.3)
        axrow[0].legend(fontsize=7)
    return _save(fig, path)


def read_scalars(logdir, prefix: str = "train/") -> dict:
    """{tag: [(step, value)]} of the TensorBoard scalars under `logdir` whose tag starts with
    `prefix`. The trainer writes them with tf.summary.write, so they are tensors."""
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    out = {}
    names = sorted(n for n in os.listdir(logdir) if n.startswith("events.out.tfevents"))
    for name in names:  # a resumed run appends a new event file
        for record in tf.data.TFRecordDataset(os.path.join(logdir, name)):
            event = event_pb2.Event.FromString(record.numpy())
            for v in event.summary.value:
                if v.tag.startswith(prefix):
                    value = (float(tf.make_ndarray(v.tensor)) if v.HasField("tensor")
                             else v.simple_value)
                    out.setdefault(v.tag[len(prefix):], {})[event.step] = value
    return {t: sorted(s.items()) for t, s in out.items()}


def colour_masks(masks: dict) -> np.ndarray:
    """The paper's colour image: heart red, left lung green, right lung blue (multi-label)."""
    return np.stack([masks["heart"], masks["left_lung"], masks["right_lung"]],
                    axis=-1).astype(np.uint8) * 255
