"""JSRT .IMG, SCR masks, paired layout, and `cxrmt data import-jsrt` on synthetic fixtures."""

import argparse
import os

import numpy as np
import pytest

from cxrmt.data.commands import register
from cxrmt.io import ImageFormatError, PairedDataset, read_image, read_jsrt_img
from cxrmt.io.paired import PairedCase, write_case, write_cases_csv

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "jsrt-bse-scr")


def _raw_img(seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 4096, (2048, 2048), dtype=np.uint16)


def test_jsrt_img_big_endian_inverted_with_spacing(tmp_path):
    raw = _raw_img()
    raw.astype(">u2").tofile(tmp_path / "JPCLN001.IMG")
    rg = read_image(tmp_path / "JPCLN001.IMG")
    assert np.array_equal(rg.pixels, 4095 - raw)
    assert rg.white == 4095 and rg.spacing_mm == (0.175, 0.175)


def test_jsrt_img_wrong_size_or_byte_order(tmp_path):
    (tmp_path / "short.IMG").write_bytes(b"\0" * 1000)
    with pytest.raises(ImageFormatError, match="short.IMG: .*8388608 bytes"):
        read_jsrt_img(tmp_path / "short.IMG")
    np.full((2048, 2048), 4000, "<u2").tofile(tmp_path / "le.IMG")  # 4000 LE reads as 40975
    with pytest.raises(ImageFormatError, match="le.IMG: .*12 bits"):
        read_jsrt_img(tmp_path / "le.IMG")


def _case(cid, size=16, seed=0):
    rng = np.random.default_rng(seed)
    masks = {o: rng.random((size, size)) > 0.5 for o in ("right_lung", "left_lung", "heart")}
    return PairedCase(cid, rng.integers(0, 256, (size, size), dtype=np.uint8),
                      rng.integers(0, 256, (size, size), dtype=np.uint8), masks, "no")


def test_paired_round_trip_and_checksums(tmp_path):
    cases = [_case("A", seed=1), _case("B", seed=2)]
    rows = [{"id": c.case_id, "nodule": "yes", **write_case(tmp_path, c)} for c in cases]
    write_cases_csv(tmp_path, rows)
    ds = PairedDataset(tmp_path)
    assert ds.ids == ["A", "B"] and ds.nodule("A") == "yes"
    got = ds.load("B", verify=True)
    assert np.array_equal(got.image, cases[1].image)
    assert np.array_equal(got.bone_suppressed, cases[1].bone_suppressed)
    assert all(np.array_equal(got.masks[o], cases[1].masks[o]) for o in got.masks)
    (tmp_path / "images" / "B.png").write_bytes((tmp_path / "images" / "A.png").read_bytes())
    with pytest.raises(ImageFormatError, match="B.png: SHA-256"):
        ds.load("B", verify=True)


def test_paired_missing_mask_names_the_file(tmp_path):
    write_case(tmp_path, _case("C"))
    os.remove(tmp_path / "masks" / "heart" / "C.png")
    with pytest.raises(ImageFormatError, match=r"heart.C\.png: missing heart file of case C"):
        PairedDataset(tmp_path).load("C")


# --- import-jsrt on a miniature copy of the official distributions -------------------------

def _official(tmp_path, ids, drop_mask=None):
    Image = pytest.importorskip("PIL.Image")
    jsrt, scr, bse = tmp_path / "jsrt", tmp_path / "scr" / "fold1" / "masks", tmp_path / "bse"
    for d in (jsrt, bse, *(scr / o for o in ("heart", "left lung", "right lung"))):
        d.mkdir(parents=True)
    truth = {}
    for n, cid in enumerate(ids):
        raw = _raw_img(n)
        raw.astype(">u2").tofile(jsrt / f"{cid}.IMG")
        bse_raw = (raw >> 4).astype(np.uint8)[::2, ::2]  # 1024^2 PNG in raw polarity
        Image.fromarray(bse_raw).save(bse / f"{cid}.png")
        yy, xx = np.mgrid[:1024, :1024]
        masks = {"heart": (yy - 600) ** 2 + (xx - 560) ** 2 < 150 ** 2,
                 "right lung": (xx > 150) & (xx < 480) & (yy > 200) & (yy < 800),
                 "left lung": (xx > 560 + n * 32) & (xx < 880) & (yy > 200) & (yy < 800)}
        for organ, m in masks.items():
            if (organ, cid) != drop_mask:
                gif = Image.fromarray(m.astype(np.uint8) * 255).convert("1")
                gif.save(scr / organ / f"{cid}.gif")
        truth[cid] = (raw, bse_raw, masks)
    return jsrt, tmp_path / "scr", bse, truth


def _run(*argv):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["data", *argv])
    return args.func(args)


def _block_mean(a, f):
    return a.reshape(a.shape[0] // f, f, a.shape[1] // f, f).mean(axis=(1, 3))


def test_import_jsrt_matches_block_averages(tmp_path):
    jsrt, scr, bse, truth = _official(tmp_path, ["JPCLN001", "JPCNN002"])
    out = tmp_path / "paired"
    assert _run("import-jsrt", "--jsrt", str(jsrt), "--scr", str(scr), "--bse", str(bse),
                "--out", str(out), "--size", "64") == 0
    ds = PairedDataset(out)
    assert ds.ids == ["JPCLN001", "JPCNN002"]
    assert [ds.nodule(i) for i in ds.ids] == ["yes", "no"]
    for cid, (raw, bse_raw, masks) in truth.items():
        case = ds.load(cid, verify=True)
        want = np.round(_block_mean((4095 - raw.astype(float)) / 4095, 32) * 255)
        assert np.abs(case.image.astype(float) - want).max() <= 1
        want_bse = np.round(_block_mean((255 - bse_raw.astype(float)) / 255, 16) * 255)
        assert np.abs(case.bone_suppressed.astype(float) - want_bse).max() <= 1
        for organ, m in masks.items():
            ref = _block_mean(m.astype(float), 16) >= 0.5
            assert np.array_equal(case.masks[organ.replace(" ", "_")], ref)


def test_import_jsrt_missing_mask_writes_nothing(tmp_path, capsys):
    jsrt, scr, bse, _ = _official(tmp_path, ["JPCLN001", "JPCNN002"],
                                  drop_mask=("left lung", "JPCNN002"))
    out = tmp_path / "paired"
    argv = ["import-jsrt", "--jsrt", str(jsrt), "--scr", str(scr), "--bse", str(bse),
            "--out", str(out), "--size", "32"]
    assert _run(*argv) == 2
    assert "no 'left lung' mask for JPCNN002" in capsys.readouterr().err
    assert not out.exists()
    assert _run(*argv, "--skip-incomplete") == 0
    assert PairedDataset(out).ids == ["JPCLN001"]


@pytest.mark.skipif(not os.path.isdir(SHARED), reason="shared JSRT data not present")
def test_shared_jsrt_polarity_and_sides():
    ds = PairedDataset(SHARED)
    assert len(ds.ids) == 103 and sum(ds.nodule(i) == "yes" for i in ds.ids) == 39
    case = ds.load(ds.ids[0], verify=True)
    lungs = case.masks["left_lung"] | case.masks["right_lung"]
    spine = np.zeros_like(lungs)
    spine[200:400, 245:267] = True
    # Display polarity: lung fields dark, mediastinum/spine bright.
    assert case.image[lungs].mean() + 40 < case.image[spine & ~lungs].mean()
    cols = np.arange(case.image.shape[1])
    right_c = (case.masks["right_lung"] * cols).sum() / case.masks["right_lung"].sum()
    left_c = (case.masks["left_lung"] * cols).sum() / case.masks["left_lung"].sum()
    assert right_c < case.image.shape[1] / 2 < left_c  # patient's right on the image left
