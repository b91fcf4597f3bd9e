# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""`python -m transformers_videorefer.train --config recipe.yaml`: the training script (code in `training/script.py`)."""

import sys

from .training.script import VideoReferTrainArguments, load_model, main, run, save_final_model

__all__ = ["VideoReferTrainArguments", "load_model", "main", "run", "save_final_model"]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
