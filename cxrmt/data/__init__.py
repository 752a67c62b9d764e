"""Data: DRR synthesis from a labelled chest CT, augmentation, leak-free folds, model targets.

Submodules are imported on use; nibabel and scipy (extra `data`) only by CT preparation.
"""
