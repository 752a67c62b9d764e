"""`cxrmt cv`: the cross-validation experiment that trains and tests every fold of every variant.

Modules:
  experiment  train and test every fold (resumable), variant names, aggregate the test folds
  report      report.md: the paper's Tables I, III, IV with paired t-tests
  figures     which figures (Figures 2-8) and their data
  plots       draws them (matplotlib, imported only here)
  commands    argparse of `cxrmt cv`
"""
