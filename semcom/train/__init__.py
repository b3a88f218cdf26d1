"""`semcom train`: end-to-end training with the channel in the loop (see trainer.py)."""
