"""Run a Predictor over radiographs on disk and write every output in the documented layout.

One input is one transaction: all its images are written to temporary names and renamed together,
then its JSON; an input that cannot be read or processed is reported and skipped, and nothing of
it is left behind.
"""

import json
import logging
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from cxrmt import __version__, kernels
from cxrmt.contract import MASK_ORGANS, ORGANS, PREFIX
from cxrmt.errors import OutputError
from cxrmt.io import DEFAULT_MAX_PIXELS, ImageFormatError, locks, png, read_image
from cxrmt.io.header import is_dicom
from cxrmt.io.dicom_out import write_bone_image, write_segmentation
from cxrmt.io.layout import DEFAULT_OUTPUTS, DICOM, output_paths
from cxrmt.io.writers import encode_png, staged, sweep_temporaries, temp_path
from cxrmt.window import describe

from .measure import measurements

log = logging.getLogger(__name__)

# Errors that concern one input (reported, the run goes on); anything else is a bug and stops.
INPUT_ERRORS = (ImageFormatError, ValueError, OSError, FloatingPointError, MemoryError)
ENCODERS = max(1, min(4, os.cpu_count() or 1))


@dataclass
class InferOptions:
    out: str | None = None       # output folder; None: next to each input
    masks: bool = False          # also one 0/255 PNG per organ
    dicom_out: bool = False      # DICOM inputs: Secondary Capture + DICOM SEG as well
    invert: bool = False         # reverse the input's polarity (for files that break conventions)
    force: bool = False          # overwrite existing outputs
    outputs: tuple = DEFAULT_OUTPUTS   # kinds of cxrmt.io.layout.OUTPUTS to write
    png_level: int | None = None       # deflate level for every PNG; None: cxrmt.io.png's
    max_pixels: int | None = DEFAULT_MAX_PIXELS   # larger inputs are refused from the header
    strict: bool = False         # refuse inputs a reader would change (colour, TIFF pages, bits)


def bone_like_input(bone16: np.ndarray, pixels: np.ndarray, white: float) -> np.ndarray:
    """The full-range uint16 bone image at the input's bit depth: uint8 for 8-bit inputs, uint16
    on the input's own scale (e.g. 0-4095 for 12-bit JSRT) for 16-bit ones, full-range uint16
    for float (windowed DICOM) inputs (see kernels.bone_to_input_depth: no temporaries)."""
    return kernels.bone_to_input_depth(bone16, pixels.dtype, white)


def output_folders(files, opts: InferOptions) -> list:
    return sorted({output_set(f, opts)[0] for f in files})


def check_output_folders(files, opts: InferOptions) -> None:
    """Before any work: every output folder exists or can be made, and takes a file; stale
    temporaries a killed run left there are removed."""
    for folder in output_folders(files, opts):
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise OutputError(f"{folder}: not a folder (--out must name a folder)")
        try:
            os.makedirs(folder, exist_ok=True)
            os.unlink(temp_path(os.path.join(folder, "probe")))
        except OSError as exc:
            raise OutputError(f"{folder}: cannot write outputs there "
                              f"({exc.strerror or exc})") from None
        for stale in sweep_temporaries(folder):
            log.info(f"removed {stale}, left by an interrupted run")


def output_set(path, opts: InferOptions) -> tuple:
    """(folder, stem) of the outputs of input `path`."""
    return (opts.out or os.path.dirname(os.path.abspath(path)),
            os.path.splitext(os.path.basename(path))[0])


def planned_outputs(path, opts: InferOptions, task: str | None) -> dict:
    """{kind: path} this input will produce (the model's task decides which exist; None, before
    the model is known: every kind asked for), the JSON last: the file that marks a set
    complete."""
    folder, stem = output_set(path, opts)
    paths = output_paths(folder, stem, masks=opts.masks, dicom=opts.dicom_out and is_dicom(path),
                         outputs=opts.outputs)
    drop = {"bse": ("seg", "overlay", "labels", "seg_dcm",
                    *(f"mask_{o}" for o in MASK_ORGANS)),
            "seg": ("bse", "bse_dcm")}.get(task, ())
    kept = {k: p for k, p in paths.items() if k not in drop and k != "json"}
    return {**kept, **({"json": paths["json"]} if "json" in paths else {})}


@dataclass
class Predicted:
    """One input after the model: what its write phase needs."""

    path: str
    paths: dict
    rg: object
    result: object
    read_ms: float
    lock: tuple   # (lock file, descriptor), released once the set is written


def _claim(path, paths: dict, opts: InferOptions) -> tuple:
    """Lock the output set of `path`; FileExistsError if it is complete (all its files, the
    last renamed last) and not --force, or being written by another run. A set with a file
    missing is redone."""
    force = opts.force
    present = [p for p in paths.values() if os.path.exists(p)]
    if _complete(paths) and not force:
        raise FileExistsError(f"{list(paths.values())[-1]} exists (use --force to overwrite)")
    lock = locks.lock_path(*output_set(path, opts))
    try:
        fd = locks.acquire(lock)
    except locks.Busy:
        raise FileExistsError(f"{path}: its outputs are being written by another cxrmt run "
                              f"(lock {lock}); skipped") from None
    if not force and all(os.path.exists(p) for p in paths.values()):   # finished meanwhile
        locks.release(lock, fd)
        raise FileExistsError(f"{list(paths.values())[-1]} exists (use --force to overwrite)")
    if present and not force:
        log.info(f"{path}: outputs of an interrupted run ({len(present)} of {len(paths)} "
                 "files): redone")
    return lock, fd


def read_input(path, opts: InferOptions) -> tuple:
    """(Radiograph, milliseconds) of one input, read as `opts` says."""
    t0 = time.perf_counter()
    rg = read_image(path, invert=opts.invert, max_pixels=opts.max_pixels, strict=opts.strict)
    return rg, (time.perf_counter() - t0) * 1e3


class ReadAhead:
    """Reads inputs on a thread ahead of the model: the first while the model loads, each next
    one while the current one runs (decoding a PNG releases the GIL, as ONNX Runtime does while
    it opens a session and runs). An input whose outputs are complete is not read ahead unless
    --force; a read-ahead of an input that is then skipped is dropped."""

    def __init__(self, files, opts: InferOptions):
        self.files, self.opts = list(files), opts
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="cxrmt-read")
        self._reads = {}   # index -> Future of read_input

    def start(self, i: int, task: str | None = None) -> None:
        """Begin reading input i unless it is started, out of range or complete (`task`: the
        model's, None before it is known: every output kind counts)."""
        if i >= len(self.files) or i in self._reads:
            return
        path = self.files[i]
        if not self.opts.force and _complete(planned_outputs(path, self.opts, task)):
            return
        self._reads[i] = self._pool.submit(read_input, path, self.opts)

    def take(self, i: int) -> tuple:
        """read_input of input i: the read-ahead's result, or a read now."""
        future = self._reads.pop(i, None)
        return future.result() if future is not None else read_input(self.files[i], self.opts)

    def drop(self, i: int) -> None:
        future = self._reads.pop(i, None)
        if future is not None:
            future.cancel()

    def close(self) -> None:
        for i in list(self._reads):
            self.drop(i)
        self._pool.shutdown(wait=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _complete(paths: dict) -> bool:
    return bool(paths) and all(os.path.exists(p) for p in paths.values())


def predict_one(predictor, i: int, reads: ReadAhead, opts: InferOptions,
                claimed: set) -> Predicted:
    """Claim, read (or take the read-ahead of) and run input i of `reads.files`. Raises
    FileExistsError (an output exists without --force, or another input of this run writes the
    same file) or an INPUT_ERRORS exception."""
    path = reads.files[i]
    paths = planned_outputs(path, opts, predictor.info.task)
    clash = claimed.intersection(paths.values())
    if clash:
        raise FileExistsError(f"{min(clash)} is also an output of another input of this run "
                              "(same file name); use separate --out folders")
    lock = _claim(path, paths, opts)
    try:
        rg, read_ms = reads.take(i)
        result = predictor.run(rg)
    except BaseException:
        locks.release(*lock)
        raise
    claimed.update(paths.values())
    return Predicted(path, paths, rg, result, read_ms, lock)


def write_one(p: Predicted, model: dict, encoders=None, png_level=None) -> dict:
    """Encode and write every output of one input as one group, the JSON renamed last (a set
    with its JSON is complete); returns the JSON record. `encoders`: an executor that encodes
    the PNGs in parallel. Releases the set's lock."""
    try:
        t1 = time.perf_counter()
        contents = _images(p.rg, p.result, p.paths, encoders, png_level)
        dicom = {k: v for k, v in p.paths.items() if k in DICOM}
        last = [p.paths["json"]] if "json" in p.paths else []
        with staged([*contents, *dicom.values(), *last]) as tmp:
            for out, data in contents.items():
                with open(tmp[out], "wb") as fh:
                    fh.write(data)
            _write_dicom(p.path, p.rg, p.result, {k: tmp[v] for k, v in dicom.items()}, model)
            timings = dict(p.result.timings, read=p.read_ms,
                           write=(time.perf_counter() - t1) * 1e3)
            timings["total"] = sum(v for k, v in timings.items() if k != "total")
            record = _record(p.path, p.rg, p.result, p.paths, model, timings)
            for path in last:
                with open(tmp[path], "w", encoding="utf-8") as fh:
                    fh.write(json.dumps(record, indent=2) + "\n")
        return record
    finally:
        locks.release(*p.lock)


def _images(rg, result, paths, encoders=None, level=None) -> dict:
    """{path: PNG bytes} of the image outputs (encoded in parallel when given an executor:
    deflate releases the GIL, and encoding is most of the write time at 2048²)."""
    arrays = {}   # kind -> array
    if result.bone_suppressed is not None and "bse" in paths:
        arrays["bse"] = bone_like_input(result.bone_suppressed, rg.pixels, rg.white)
    if result.masks is not None:
        wanted = {"seg": result.segmentation, "overlay": result.overlay, "labels": result.labels}
        arrays.update({k: a for k, a in wanted.items() if k in paths})
        for organ in MASK_ORGANS:
            if f"mask_{organ}" in paths:
                mask = result.masks[ORGANS.index(organ)]
                arrays[f"mask_{organ}"] = (mask > 0).astype(np.uint8) * 255

    def encode(kind):
        return encode_png(arrays[kind], paths[kind],
                          level=png.DEFAULT_LEVEL if level is None else level)

    run = encoders.map if encoders is not None else map
    return {paths[k]: data for k, data in zip(arrays, run(encode, list(arrays)))}


def _write_dicom(path, rg, result, paths, model) -> None:
    """The DICOM outputs named in `paths` (temporary names inside the input's transaction)."""
    if not paths:
        return

    if "bse_dcm" in paths:
        # 8-bit sources get 8 bits; others the full-range 16-bit image, which the writer
        # requantises to the source's bit depth (CR/DX) or keeps (Secondary Capture)
        bone = (bone_like_input(result.bone_suppressed, rg.pixels, rg.white)
                if rg.pixels.dtype == np.uint8 else result.bone_suppressed)
        write_bone_image(path, bone, paths["bse_dcm"])
    if "seg_dcm" in paths:
        write_segmentation(path, result.masks, paths["seg_dcm"], model_id=model["name"])


def _record(path, rg, result, paths, model, timings) -> dict:
    spacing = None if result.spacing is None else [float(s) for s in result.spacing]
    record = {
        "cxrmt": __version__,
        "input": {"path": os.path.abspath(path), "height": int(rg.pixels.shape[0]),
                  "width": int(rg.pixels.shape[1]), "dtype": str(rg.pixels.dtype),
                  "spacing_mm": spacing},
        "model": model,
        "window": {"lo": float(result.window[0]), "hi": float(result.window[1])}
        if result.window is not None else None,
        "timings_ms": {k: round(v, 2) for k, v in timings.items()},
        "outputs": {k: os.path.basename(p) for k, p in paths.items()},
    }
    if result.masks is not None:
        record.update(measurements(result.masks, spacing, rg.meta.get("spacing_tag")))
    return record


def model_record(predictor, path, backend: str) -> dict:
    """What the JSON says about the model: file, identity, size, task, backend."""

    meta = predictor.info.meta
    return {"path": os.path.abspath(path), "name": os.path.basename(os.fspath(path)),
            "weights_sha256": meta.get(PREFIX + "weights_sha256"),
            "variant": meta.get(PREFIX + "variant"), "size": predictor.info.size,
            "task": predictor.info.task, "precision": predictor.info.precision,
            "backend": backend,
            "window": describe(predictor.window, predictor.preprocess_options.percentile),
            "flip_tta": predictor.flip_tta}


def infer_paths(predictor, files, opts: InferOptions, model: dict, quiet=False,
                reads: ReadAhead | None = None) -> list:
    """Process every file; returns [(file, reason)] of the ones that failed. Input i + 1 is read
    while input i runs, and input i is encoded and written while input i + 1 runs (one write in
    flight, so memory stays at two images' outputs and one input); the last write finishes before
    this returns, also on Ctrl-C. `reads`: a ReadAhead over `files` that may have begun (the
    command starts the first read before the model loads)."""
    if files and not planned_outputs(files[0], opts, predictor.info.task):
        raise ValueError(f"--outputs {','.join(opts.outputs)}: nothing to write for a "
                         f"{predictor.info.task!r} model")
    if reads is None:
        with ReadAhead(files, opts) as own:
            return infer_paths(predictor, files, opts, model, quiet, own)
    failed, claimed, pending = [], set(), None
    bar = len(files) > 1 and not quiet and sys.stderr.isatty()   # no \r in logs and pipes
    task = predictor.info.task

    def fail(path, exc):
        reason = str(exc) if str(exc).startswith(os.fspath(path)) else f"{path}: {exc}"
        failed.append((path, reason))
        if bar:
            print(file=sys.stderr)   # end the progress line
        log.warning(f"skipped {reason}")

    def settle(job):
        if job is not None:
            try:
                job[1].result()
            except INPUT_ERRORS as exc:
                fail(job[0], exc)

    with ThreadPoolExecutor(1) as writer, ThreadPoolExecutor(ENCODERS) as encoders:
        try:
            for i, path in enumerate(files):
                reads.start(i, task)
                reads.start(i + 1, task)
                try:
                    p = predict_one(predictor, i, reads, opts, claimed)
                except (FileExistsError, *INPUT_ERRORS) as exc:
                    reads.drop(i)
                    fail(path, exc)
                else:
                    try:
                        settle(pending)
                        pending = (path, writer.submit(write_one, p, model, encoders,
                                                       opts.png_level))
                    except BaseException:   # p was never handed to the writer: its lock
                        locks.release(*p.lock)
                        raise
                if bar:
                    print(f"\r[{i + 1}/{len(files)}] {os.path.basename(path)}", end="",
                          file=sys.stderr, flush=True)
        finally:
            settle(pending)
    if bar:
        print(file=sys.stderr)
    return failed
