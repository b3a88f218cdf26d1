"""Baselines of the paper's comparisons (reconstruction and segmentation)."""
