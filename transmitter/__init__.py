"""Transmitter side: task KB (shared), Swin source KB, JSCC encoder."""
