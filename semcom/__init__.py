"""What ties the three sides together: the in-process pipeline, CLIs, training, evaluation, benchmarks."""
