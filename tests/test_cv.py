"""`cxrmt cv`: a miniature cross-validation (DRR data, 64x64, 2 folds, MTdG + autoencoder) run end
to end through the CLI; resume, --report-only, p-values against scipy, the pair predictor."""

import contextlib
import csv
import io
import os
import re

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("matplotlib")
cv2 = pytest.importorskip("cv2")
scipy_stats = pytest.importorskip("scipy.stats")

from cxrmt.cli import main  # noqa: E402
from cxrmt.metrics.stats import format_p  # noqa: E402

TINY = ["--size", "64", "--ngf", "8", "--levels", "5", "--ndf", "8", "--batch", "2",
        "--steps", "4", "--val-every", "4", "--log-every", "1", "--augment", "none"]
FIGURES = {"fig2_dice", "fig3_mtdg", "fig4_jaccard_hd95", "fig5_mtdg", "fig5_autoencoder",
           "fig6_losses", "fig7_rmse_mssim", "fig8_bsr"}


def cv(*args) -> tuple:
    """(exit status, stderr text) of `cxrmt cv ...` run in this process."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(["cv", *map(str, args)])
    return rc, err.getvalue()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from cxrmt.data.synth import write_drr_dataset

    root = tmp_path_factory.mktemp("cv")
    data, out = root / "data", root / "out"
    write_drr_dataset(data, 6, 64, seed=3)
    args = ["--variants", "mtdg,autoencoder", "--folds", 2, "--data", data, "--out", out, *TINY]
    rc, log = cv(*args)
    assert rc == 0, log
    return data, out, args, log


def read_rows(path) -> list:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def table(report: str, title: str) -> list:
    """The body rows of the markdown table under `## <title>...`, as lists of cells."""
    section = report.split("## " + title, 1)[1].split("\n## ", 1)[0]
    lines = [ln for ln in section.splitlines() if ln.startswith("| ")]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[1:]]


def mean_of(cell: str) -> float:
    return float(cell.split(" ± ")[0])


def test_report_has_the_tables_with_numbers_in_range(run):
    _, out, _, log = run
    assert log.count("testing") == 4 and "skipped" not in log
    report = (out / "report.md").read_text()
    assert "Not produced: needs the variants unet and mtdg (missing: unet)" in report
    t3 = {r[0]: r[1:] for r in table(report, "Table III")}
    assert list(t3) == ["Identity (input)", "Autoencoder", "MTdG", "p, autoencoder vs MTdG",
                        "p, MTdG vs identity"]
    for label in ("p, autoencoder vs MTdG", "p, MTdG vs identity"):
        assert all(0.0 <= float(p) <= 1.0 for p in t3[label]), t3[label]
    assert all(-1.0 <= mean_of(t3[m][1]) <= 1.0 for m in ("Identity (input)", "MTdG"))  # M-SSIM
    assert mean_of(t3["Identity (input)"][3]) == 0.0  # BSR of the input itself
    t4 = {r[0]: r[1:] for r in table(report, "Table IV")}
    assert list(t4) == ["MTdG", "Autoencoder", "Identity (input)"]
    assert t4["MTdG"][:2] == ["2", "6"] and 0.0 <= mean_of(t4["MTdG"][2]) <= 1.0  # Dice
    assert t4["Autoencoder"][2] == "-" and t4["Identity (input)"][2] == "-"
    from cxrmt.model.build import param_counts

    assert t4["MTdG"][9] == f"{param_counts('mtdg', 64, 8, 5, 'paper', 8)['total']:,}"
    assert float(t4["MTdG"][10]) == pytest.approx(4 * 2 / 3, abs=0.05)  # steps*batch/cases
    assert float(t4["MTdG"][12]) > 0  # inference ms per image


def test_every_figure_is_linked_and_decodes(run):
    _, out, _, _ = run
    report = (out / "report.md").read_text()
    links = re.findall(r"\]\(figures/([\w.]+)\)", report)
    assert {os.path.splitext(n)[0] for n in links} == FIGURES and len(links) == len(FIGURES)
    for name in links:
        img = cv2.imread(str(out / "figures" / name))
        assert img is not None and min(img.shape[:2]) > 150, name
        assert img.std() > 10 and len(np.unique(img.reshape(-1, 3), axis=0)) > 50, name


def test_every_case_is_tested_once_by_the_model_that_did_not_see_it(run):
    import json

    data, out, _, _ = run
    all_ids = sorted(r["id"] for r in read_rows(data / "cases.csv"))
    for variant in ("mtdg", "autoencoder"):
        rows = read_rows(out / variant / "cases.csv")
        assert sorted(r["id"] for r in rows) == all_ids
        folds = [{r["id"] for r in read_rows(out / variant / f"fold{i}" / "test" / "cases.csv")}
                 for i in range(2)]
        assert not folds[0] & folds[1] and folds[0] | folds[1] == set(all_ids)
        for i, ids in enumerate(folds):
            record = json.loads((out / variant / f"fold{i}" / "model.json").read_text())
            assert set(record["data"]["val_ids"]) == ids
            assert not ids & set(record["data"]["train_ids"]) and record["kept"] == "last"
            assert all((out / variant / f"fold{i}" / "test" / "predictions" / f"{c}_bse.png")
                       .exists() for c in ids)
    for r in read_rows(out / "mtdg" / "cases.csv"):
        assert all(0.0 <= float(r[f"dice_{o}"]) <= 1.0 for o in ("heart", "left_lung",
                                                                 "right_lung", "mean"))


def test_p_value_matches_scipy(run):
    _, out, _, _ = run
    ae = {r["id"]: float(r["rmse"]) for r in read_rows(out / "autoencoder" / "cases.csv")}
    mt = {r["id"]: float(r["rmse"]) for r in read_rows(out / "mtdg" / "cases.csv")}
    ids = sorted(ae)
    p = scipy_stats.ttest_rel([ae[i] for i in ids], [mt[i] for i in ids]).pvalue
    t3 = {r[0]: r[1:] for r in table((out / "report.md").read_text(), "Table III")}
    assert t3["p, autoencoder vs MTdG"][0] == format_p(p)


def test_table1_against_scipy():
    """Table I needs unet; checked on made-up rows (training a U-Net here would cost time)."""
    from cxrmt.cv.report import table1

    rng = np.random.default_rng(0)
    ids = [f"c{i}" for i in range(7)]

    def rows(offset):
        return [{"id": c, **{f"{m}_{o}": float(rng.uniform(0.5, 0.9) + offset)
                             for m in ("dice", "jaccard", "fnr", "fpr", "hd95")
                             for o in ("heart", "left_lung", "right_lung", "mean")}}
                for c in ids]

    unet, mtdg = rows(0.0), rows(0.05)
    lines = table1({"unet": unet, "mtdg": list(reversed(mtdg))})  # pairing is by id
    body = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines if ln.startswith("| ")]
    assert body[0] == ["organ", "metric", "U-Net", "MTdG", "p (paired t-test)"]
    assert len(body) == 1 + 4 * 5  # header, then organ x metric (the separator has no "| ")
    heart_dice = next(r for r in body if r[:2] == ["heart", "Dice"])
    p = scipy_stats.ttest_rel([r["dice_heart"] for r in unet],
                              [r["dice_heart"] for r in mtdg]).pvalue
    assert heart_dice[4] == format_p(p)


def test_second_run_skips_finished_folds_and_report_only_rebuilds(run):
    _, out, args, _ = run
    stamps = {p: os.stat(p).st_mtime_ns for p in
              [out / v / f"fold{i}" / f for v in ("mtdg", "autoencoder") for i in range(2)
               for f in ("model.json", "model.keras", "test/cases.csv")]}
    rc, log = cv(*args)
    assert rc == 0 and log.count("finished, skipped") == 4 and "training" not in log, log
    assert all(os.stat(p).st_mtime_ns == t for p, t in stamps.items())
    # A fold trained but not tested is tested only.
    os.remove(out / "mtdg" / "fold1" / "test" / "cases.csv")
    rc, log = cv(*args)
    assert rc == 0 and "mtdg fold 1: testing" in log and "training" not in log, log
    assert log.count("finished, skipped") == 3
    os.remove(out / "report.md")
    for name in os.listdir(out / "figures"):
        os.remove(out / "figures" / name)
    rc, log = cv("--variants", "mtdg,autoencoder", "--folds", 2, "--data", args[5], "--out",
                 out, "--report-only")
    assert rc == 0 and "testing" not in log and "training" not in log, log
    assert "## Table III" in (out / "report.md").read_text()
    assert {os.path.splitext(n)[0] for n in os.listdir(out / "figures")} == FIGURES


def test_pair_predictor_combines_masks_and_bone():
    from cxrmt.cv.experiment import PairPredictor, networks_of
    from cxrmt.pipeline import Result

    class Stub:
        def __init__(self, masks, bone, ms):
            self.result = Result(masks, None, None, None, bone, np.zeros(1), None,
                                 {"inference": ms, "total": ms})
            self.closed = False

        def run(self, image):
            return self.result

        def close(self):
            self.closed = True

    masks, bone = np.ones((3, 4, 4), np.uint8), np.full((4, 4), 7, np.uint8)
    seg, bse = Stub(masks, np.zeros((4, 4), np.uint8), 2.0), Stub(None, bone, 3.0)
    with PairPredictor(seg, bse) as pair:
        r = pair.run(np.zeros((4, 4), np.uint8))
    assert r.masks is masks and r.bone_suppressed is bone and r.timings["total"] == 5.0
    assert seg.closed and bse.closed
    assert networks_of("st") == ("st-seg", "st-bse") and networks_of("mtdg") == ("mtdg",)


@pytest.mark.parametrize("args, message", [
    (["--variants", "mtdg,nope", "--folds", "2"], "unknown variant 'nope'"),
    (["--variants", "mtdg", "--folds", "1"], "--folds must be >= 2"),
    (["--variants", "mtdg", "--folds", "2", "--data", "/nonexistent/cxrmt"], "no such data"),
])
def test_bad_arguments_are_clear_errors(args, message, tmp_path, capsys):
    if "--data" not in args:
        args = [*args, "--data", tmp_path]
    assert main(["cv", *map(str, args), "--out", str(tmp_path / "o"), "--steps", "1"]) == 1
    err = capsys.readouterr().err
    assert "cxrmt cv: error:" in err and message in err, err
    assert not (tmp_path / "o").exists()


def test_clean_variant_reuses_the_trained_networks(run, tmp_path):
    """`mtdg+clean` trains nothing: it tests the mtdg folds again with mask clean-up, and every
    organ of every prediction is then one 8-connected region at most."""
    import shutil

    data, out, args, _ = run
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    args = [a if a != out else copy for a in args]
    args[args.index("--variants") + 1] = "mtdg,mtdg+clean"
    rc, log = cv(*args)
    assert rc == 0, log
    assert "training" not in log and log.count("testing") == 2
    rows = read_rows(copy / "mtdg+clean" / "cases.csv")
    assert len(rows) == 6
    for path in (copy / "mtdg+clean").glob("fold*/test/predictions/*_mask_*.png"):
        mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert cv2.connectedComponents((mask > 0).astype(np.uint8), connectivity=8)[0] <= 2
    t4 = {r[0] for r in table((copy / "report.md").read_text(), "Table IV")}
    assert "MTdG + clean-up" in t4
