"""The measures: pure functions of arrays, no training and no run folders.

Modules:
  segmentation      Dice, Jaccard, FNR, FPR (the paper's eqs. 5-8), 95 % Hausdorff distance
  bone_suppression  RMSE, M-SSIM (8x8 windows), PSNR, bone suppression ratio, optional region
  stats             paired t-test, mean +- std formatting
"""
