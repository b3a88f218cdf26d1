"""Receiver side: task KB (shared), residual source KB, diffusion reconstruction decoder, segmentation decoder."""
