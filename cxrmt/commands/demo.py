"""`cxrmt demo`: the inputs of the README's first command, and what can honestly be said of them.

<out>/radiograph.png  a real PA radiograph shipped in the package (NIH ChestX-ray14, see
                      cxrmt/samples/NOTICE.md): the input of `cxrmt infer`. It has no ground
                      truth, so it is not scored; the report gives the shipped model's organ check
                      on it (both lungs and the heart found and placed, as `cxrmt eval --sheet`).
<out>/drr/            the kernels end to end on one DRR triplet of the embedded CT: preprocess ->
                      (ideal S x S output) -> decode, clean-up, colourise, overlay at full size,
                      fidelity of what survives the trip to S and back; then the shipped model on
                      the DRR, scored against its ground truth (DRRs are outside its domain).
"""

import json
import os
import time

import numpy as np

from cxrmt import kernels
from cxrmt.contract import ORGANS
from cxrmt.data.drr import synthesize
from cxrmt.data.synth import case_rng, load_stack
from cxrmt.io.writers import write_png, write_text
from cxrmt.metrics import bone_suppression as bone_metrics
from cxrmt.metrics.segmentation import dice


def ideal_output(triplet, x, frame) -> np.ndarray:
    """What a perfect network would output at S x S: the ground truth brought to the model grid
    the same way preprocess brings the radiograph (area average of the padded square)."""
    s = frame.size
    masks = [kernels.preprocess(triplet.masks[o].astype(np.float32), s)[0][0, :, :, 0] for o in ORGANS]
    seg = np.stack([np.where(m > 0, 1.0, -1.0) for m in masks], -1)  # > 0: more than half covered
    target = kernels.preprocess(triplet.bone_suppressed, s)[0][0]
    return np.concatenate([seg, target], -1)[None].astype(np.float32)


def timed(times: dict, name: str, fn, *args, **kw):
    t0 = time.perf_counter()
    result = fn(*args, **kw)
    times[name] = round((time.perf_counter() - t0) * 1e3, 2)
    return result


def run_demo(out: str, size: int = 256, res: int = 1024, seed: int = 0) -> dict:
    """Write both parts; returns report.json's content."""
    os.makedirs(out, exist_ok=True)
    report = {"radiograph": real_radiograph(out),
              "drr": drr_demo(os.path.join(out, "drr"), size, res, seed)}
    write_text(os.path.join(out, "report.json"), json.dumps(report, indent=2))
    return report


def real_radiograph(out: str) -> dict:
    """Copy the shipped sample to <out>/radiograph.png and check the shipped model on it."""
    from cxrmt.evaluate.sheet import organ_check
    from cxrmt.io.writers import write_bytes
    from cxrmt.pipeline import Predictor
    from cxrmt.samples import ATTRIBUTION, demo_radiograph
    from cxrmt.shipped import default_model

    path = os.path.join(out, "radiograph.png")
    with open(demo_radiograph(), "rb") as fh:
        write_bytes(path, fh.read())
    with Predictor(default_model(), clean=True) as p:
        r = p.run(path)
    return {"file": "radiograph.png", "source": ATTRIBUTION, "scored": False,
            "what": "a real radiograph without ground truth: no Dice or bone score is possible; "
                    "the organ check says whether the shipped model (with --clean) finds both "
                    "lungs and the heart in the right places",
            "model": os.path.basename(default_model()), "organ_check": organ_check(r.masks)}


def drr_demo(out: str, size: int, res: int, seed: int) -> dict:
    """The kernels and the shipped model on one DRR triplet, against its ground truth."""
    t = synthesize(load_stack(), res, case_rng(seed, 0))
    img, times = t.image, {}
    x, frame = timed(times, "preprocess_ms", kernels.preprocess, img, size)
    y = ideal_output(t, x, frame)
    r = timed(times, "decode_ms", kernels.decode, y, frame, image=img, model_input=x)
    plain = kernels.decode(y, frame, bone_mode="resize", masks=False, labels=False)["bone_suppressed"]
    masks = timed(times, "cleanup_ms", kernels.cleanup, r["masks"])
    colour = timed(times, "colourise_ms", kernels.colourise, masks)
    overlay = timed(times, "overlay_ms", kernels.overlay, img, frame, masks)
    outline = kernels.overlay(img, frame, masks, mode="outline", alpha=255, thickness=max(1, res // 512))
    lungs = t.masks["left_lung"] | t.masks["right_lung"]
    os.makedirs(out, exist_ok=True)
    images = {"radiograph": img, "bone_suppressed_target": t.bone_suppressed,
              "bone_suppressed_residual": r["bone_suppressed"], "bone_suppressed_resize": plain,
              "segmentation": colour, "overlay": overlay, "outline": outline}
    for name, a in images.items():
        write_png(os.path.join(out, f"{name}.png"), a)
    report = {
        "what": "ideal S x S output (ground truth) decoded to full size; no trained network",
        "model_size": size, "radiograph_size": res, "seed": seed,
        "dice_after_decode": {o: round(dice(masks[i] > 0, t.masks[o]), 4) for i, o in enumerate(ORGANS)},
        "bone_rmse_residual": round(bone_metrics.rmse(r["bone_suppressed"], t.bone_suppressed), 3),
        "bone_rmse_resize": round(bone_metrics.rmse(plain, t.bone_suppressed), 3),
        "bone_rmse_identity": round(bone_metrics.rmse(img, t.bone_suppressed), 3),
        "bsr_lungs_residual": round(bone_metrics.bsr(r["bone_suppressed"], t.bone_suppressed, img, lungs), 3),
        "bsr_lungs_resize": round(bone_metrics.bsr(plain, t.bone_suppressed, img, lungs), 3),
        "kernel_times": times, "build": kernels.build_info(), "files": sorted(f"{n}.png" for n in images),
    }
    report["shipped_model"] = shipped_model_scores(img, t, lungs)
    return report


def shipped_model_scores(img, triplet, lungs) -> dict:
    """The shipped model (with mask clean-up) on the DRR against its ground truth."""
    from cxrmt.pipeline import Predictor
    from cxrmt.shipped import default_model

    with Predictor(default_model(), clean=True) as p:
        r = p.run(img)
    return {"model": os.path.basename(default_model()),
            "dice": {o: round(dice(r.masks[i] > 0, triplet.masks[o]), 4)
                     for i, o in enumerate(ORGANS)},
            "bone_rmse": round(bone_metrics.rmse(r.bone_suppressed, triplet.bone_suppressed), 3),
            "bsr_lungs": round(bone_metrics.bsr(r.bone_suppressed, triplet.bone_suppressed, img, lungs), 3),
            "note": "DRRs are outside the JSRT training domain; see MODEL_CARD.md"}
