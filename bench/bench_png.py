"""PNG encoding of `cxrmt infer`'s outputs: cv2.imencode time and size by zlib level, zlib
strategy and PNG row filter, for each image kind of a 2048² radiograph, beside cxrmt's own
writer (cxrmt.io.png, ISA-L's deflate: `test_encode_cxrmt`), which `cxrmt infer` uses.

Kinds: `bse` (16-bit grey bone-suppressed image), `overlay` and `seg` (8-bit RGB) and `labels`
(8-bit grey 0..3, the one-channel alternative to `seg`), all real outputs of the shipped model
on the radiograph-like input of cxr_inputs.py. Every setting asserts that the PNG decodes to
exactly the input (PNG is lossless whatever the setting; a wrong flag must not change that).

OpenCV's defaults, checked byte for byte in `test_opencv_default_is_level1_rle_sub` (OpenCV 5.0,
libpng 1.6): no parameters = zlib level 1, strategy RLE, filter SUB. Giving
IMWRITE_PNG_COMPRESSION switches the strategy to DEFAULT and the filter to libpng's adaptive
choice among all five (slower), and resets a strategy given *before* it: pass the level first,
then IMWRITE_PNG_STRATEGY and IMWRITE_PNG_FILTER.

Decoding (group `png-decode`): the inputs `cxrmt infer` reads, a 2048² 16-bit film as OpenCV
writes it by default and an 8-bit one, by cxrmt.io.png.decode (libdeflate + the core's
unfiltering) against cv2.imdecode, identical arrays asserted; `..._beside_python` times each
while another thread runs Python, as `cxrmt infer`'s read-ahead does beside model loading (the
GIL: cxrmt's holds it ~1 ms, OpenCV releases it for the whole call too).

Run:  pytest bench/bench_png.py --benchmark-enable -k bse        # one kind, groups png-<kind>
      pytest bench/bench_png.py --benchmark-enable -k decode     # the readers
      python bench/bench_png.py [--size 2048] [--rounds 3]        # the tables (markdown)
Without --benchmark-enable each setting encodes a 256² version once (correctness only).
"""

import argparse
import itertools
import re
import time

import cv2
import numpy as np
import pytest

from cxr_inputs import radiograph

C, S, F = cv2.IMWRITE_PNG_COMPRESSION, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_FILTER
STRATEGIES = {"default": cv2.IMWRITE_PNG_STRATEGY_DEFAULT,
              "filtered": cv2.IMWRITE_PNG_STRATEGY_FILTERED,
              "rle": cv2.IMWRITE_PNG_STRATEGY_RLE,
              "huffman": cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY,
              "fixed": cv2.IMWRITE_PNG_STRATEGY_FIXED}
FILTERS = {"none": cv2.IMWRITE_PNG_FILTER_NONE, "sub": cv2.IMWRITE_PNG_FILTER_SUB,
           "up": cv2.IMWRITE_PNG_FILTER_UP, "paeth": cv2.IMWRITE_PNG_FILTER_PAETH,
           "all": cv2.IMWRITE_PNG_ALL_FILTERS}
LEVELS = range(10)
FILTER_LEVELS = (0, 1, 2, 3)                  # where a fixed filter is worth trying
FILTER_STRATEGIES = ("default", "rle", "huffman")
KINDS = ("bse", "overlay", "seg", "labels")


def params(level=None, strategy=None, filt=None) -> list:
    """imencode parameters in the order OpenCV needs (the level resets the strategy)."""
    p = [] if level is None else [C, level]
    p += [] if strategy is None else [S, STRATEGIES[strategy]]
    return p + ([] if filt is None else [F, FILTERS[filt]])


def settings() -> dict:
    """{name: params}: OpenCV's default, level x strategy (libpng's adaptive filter, as an
    explicit level gives), and levels 0-3 x {default, rle, huffman} x each filter."""
    out = {"opencv-default": []}
    out.update({f"L{lv}-{st}": params(lv, st) for lv, st in itertools.product(LEVELS, STRATEGIES)})
    out.update({f"L{lv}-{st}-{fi}": params(lv, st, fi) for lv, st, fi in
                itertools.product(FILTER_LEVELS, FILTER_STRATEGIES, FILTERS)})
    return out


SETTINGS = settings()


def outputs(size: int) -> dict:
    """{kind: array as cv2.imencode takes it (BGR for colour)} of the shipped model's run."""
    from cxrmt.pipeline import Predictor
    from cxrmt.shipped import default_model

    with Predictor(default_model(), bone_dtype="uint16") as p:
        r = p.run(radiograph(size, seed=0))
    return {"bse": r.bone_suppressed, "overlay": cv2.cvtColor(r.overlay, cv2.COLOR_RGB2BGR),
            "seg": cv2.cvtColor(r.segmentation, cv2.COLOR_RGB2BGR), "labels": r.labels}


def encode(img: np.ndarray, p: list) -> bytes:
    ok, buf = cv2.imencode(".png", img, p)
    assert ok, f"imencode failed with {p}"
    return buf.tobytes()


def assert_lossless(img: np.ndarray, data: bytes):
    back = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert back.dtype == img.dtype and back.shape == img.shape
    assert np.array_equal(back, img)


@pytest.fixture(scope="module")
def images(request):
    timed = request.config.getoption("benchmark_enable") or not request.config.getoption(
        "benchmark_disable")
    return outputs(2048 if timed else 256)


def test_opencv_default_is_level1_rle_sub(images):
    """What `cv2.imencode(".png", img)` does today, byte for byte, and the parameter trap."""
    for img in images.values():
        default = encode(img, [])
        assert default == encode(img, params(1, "rle", "sub"))
        assert default == encode(img, params(None, "rle"))           # strategy alone: same
    bse = images["bse"]
    assert encode(bse, params(1)) == encode(bse, params(1, "default", "all"))
    assert encode(bse, [S, STRATEGIES["rle"], C, 1]) == encode(bse, params(1))   # reset


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("kind", KINDS)
def test_encode(benchmark, images, kind, setting):
    img, p = images[kind], SETTINGS[setting]
    benchmark.group = f"png-{kind}"
    data = benchmark.pedantic(encode, args=(img, p), rounds=3, iterations=1)
    assert_lossless(img, data)
    benchmark.extra_info["MB"] = round(len(data) / 1e6, 3)


@pytest.mark.parametrize("level", [0, 1, 3])
@pytest.mark.parametrize("kind", KINDS)
def test_encode_cxrmt(benchmark, images, kind, level):
    """cxrmt's own writer (cxrmt.io.png: Up filter, ISA-L's deflate where installed), in the
    same groups as OpenCV's settings; it takes RGB, so colour images are flipped back."""
    from cxrmt.io import png

    img = images[kind][..., ::-1].copy() if images[kind].ndim == 3 else images[kind]
    benchmark.group = f"png-{kind}"
    data = benchmark.pedantic(png.encode, args=(img, level), rounds=3, iterations=1)
    assert_lossless(images[kind], data)   # OpenCV decodes to BGR: the array it was given
    benchmark.extra_info.update(MB=round(len(data) / 1e6, 3), deflate=png.DEFLATE)


@pytest.fixture(scope="module")
def films(request):
    """{name: PNG bytes} of the inputs decode reads: 16- and 8-bit films, OpenCV's defaults."""
    timed = request.config.getoption("benchmark_enable") or not request.config.getoption(
        "benchmark_disable")
    film = radiograph(2048 if timed else 256, seed=0)
    return {"film16": encode(film, []), "film8": encode((film >> 8).astype(np.uint8), [])}


def _busy_python(stop):
    while not stop.is_set():
        sum(range(1000))


@pytest.mark.parametrize("beside_python", [False, True], ids=["alone", "beside_python"])
@pytest.mark.parametrize("reader", ["cxrmt", "opencv"])
@pytest.mark.parametrize("name", ["film16", "film8"])
def test_decode(benchmark, films, name, reader, beside_python):
    import threading

    from cxrmt.io import png

    data = films[name]
    decode = {"cxrmt": png.decode,
              "opencv": lambda d: cv2.imdecode(np.frombuffer(d, np.uint8), cv2.IMREAD_UNCHANGED)}
    benchmark.group = f"png-decode-{name}" + ("-beside-python" if beside_python else "")
    stop = threading.Event()
    busy = threading.Thread(target=_busy_python, args=(stop,))
    if beside_python:
        busy.start()
    try:
        got = benchmark.pedantic(decode[reader], args=(data,), rounds=5, iterations=1)
    finally:
        stop.set()
        if beside_python:
            busy.join()
    assert got is not None and np.array_equal(got, decode["opencv"](data))


def measure(images: dict, rounds: int, names) -> dict:
    """{kind: {setting: (min ms of `rounds`, MB)}}, each PNG checked lossless. Rounds are
    interleaved (every setting once, then again), so that load from other processes on a
    shared machine weighs on all settings alike and ratios within the run stay fair."""
    table = {}
    for kind, img in images.items():
        ms, mb = {n: [] for n in names}, {}
        for _ in range(rounds):
            for name in names:
                t0 = time.perf_counter()
                data = encode(img, SETTINGS[name])
                ms[name].append((time.perf_counter() - t0) * 1e3)
                if name not in mb:
                    assert_lossless(img, data)
                    mb[name] = len(data) / 1e6
        table[kind] = {n: (min(ms[n]), mb[n]) for n in names}
    return table


def _cell(rows: dict, name: str) -> str:
    return f"{rows[name][0]:.0f} / {rows[name][1]:.2f}" if name in rows else "-"


def markdown(kind: str, rows: dict) -> str:
    """Level x strategy grid of 'ms / MB', then the fixed-filter rows and OpenCV's default."""
    lines = [f"### {kind}", "", "| level | " + " | ".join(STRATEGIES) + " |",
             "|---" * (len(STRATEGIES) + 1) + "|"]
    for lv in LEVELS:
        cells = [_cell(rows, f"L{lv}-{st}") for st in STRATEGIES]
        lines.append(f"| {lv} | " + " | ".join(cells) + " |")
    lines += ["", "| level-strategy | " + " | ".join(f"filter {f}" for f in FILTERS) + " |",
              "|---" * (len(FILTERS) + 1) + "|"]
    for lv, st in itertools.product(FILTER_LEVELS, FILTER_STRATEGIES):
        cells = [_cell(rows, f"L{lv}-{st}-{fi}") for fi in FILTERS]
        lines.append(f"| L{lv}-{st} | " + " | ".join(cells) + " |")
    lines += ["", f"OpenCV default (L1, rle, sub): {_cell(rows, 'opencv-default')} (ms / MB)", ""]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description="PNG level/strategy/filter tables (ms / MB)")
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--match", default="", help="only settings whose name matches this regex "
                    "(OpenCV's default is always kept, as the baseline)")
    args = ap.parse_args(argv)
    imgs = {k: v for k, v in outputs(args.size).items() if k in args.kinds.split(",")}
    names = [n for n in SETTINGS if n == "opencv-default" or re.search(args.match, n)]
    print(f"OpenCV {cv2.__version__}; {args.size}²; min of {args.rounds} interleaved rounds; "
          "cells: ms / MB\n")
    for kind, rows in measure(imgs, args.rounds, names).items():
        print(markdown(kind, rows), flush=True)


if __name__ == "__main__":
    main()
