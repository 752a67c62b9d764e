"""Evaluation: the paper's metrics (eqs. 5-11), HD95, PSNR, bone suppression ratio, statistics.

Modules (imported on demand so that `cxrmt --help` stays light):
  segmentation  Dice, Jaccard, FNR, FPR (paper's definition), 95 % Hausdorff distance
  bone          RMSE, M-SSIM (8x8 windows), PSNR, bone suppression ratio, optional region
  cases         score one case -> flat row; read the `cxrmt infer` layout; write reports
  stats         paired t-test, mean +- std formatting
  commands      `cxrmt eval --predictions DIR --data DIR --out DIR`
  cv            `cxrmt cv`: train and test every fold of every variant (resumable), aggregate
  cv_report     report.md: the paper's Tables I, III, IV with paired t-tests
  cv_figures    which figures (Figures 2-8) and their data; figures draws them (matplotlib)
  cv_commands   argparse of `cxrmt cv`
"""
