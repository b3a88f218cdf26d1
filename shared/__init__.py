"""What both sides truly share: config and presets, channel maths, task KB, metrics, layers, weights I/O."""
