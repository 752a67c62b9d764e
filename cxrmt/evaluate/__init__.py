"""Evaluation: the paper's metrics (eqs. 5-11), HD95, PSNR, bone suppression ratio, statistics.

Modules (imported on demand so that `cxrmt --help` stays light):
  segmentation  Dice, Jaccard, FNR, FPR (paper's definition), 95 % Hausdorff distance
  bone          RMSE, M-SSIM (8x8 windows), PSNR, bone suppression ratio, optional region
  cases         score one case -> flat row; read the `cxrmt infer` layout; write reports
  stats         paired t-test, mean +- std formatting
  commands      `cxrmt eval --predictions DIR --data DIR --out DIR`
"""
