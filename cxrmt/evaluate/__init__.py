"""Evaluation of a model or of predictions on paired data (`cxrmt eval`), over the measures of
`cxrmt.metrics`.

Modules:
  cases     score one case -> flat row; read the `cxrmt infer` layout; run a Predictor over cases
  report    results.csv / summary.md of an evaluation
  shift     the robustness benchmark: held-out cases under acquisition shifts
  sheet     the contact sheet and organ check of unlabelled real films
  commands  `cxrmt eval`
"""
