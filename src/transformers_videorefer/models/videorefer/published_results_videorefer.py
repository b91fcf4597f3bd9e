# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""VideoRefer-Bench numbers published for the VideoRefer releases: shown by the evaluation reports and the model
cards of converted checkpoints."""

# The paper's published VideoRefer-7B numbers, from the VideoRefer-Bench tables of the original repository
# (benchmark/README.md; the top-level README shows them only as an image). Bench-Q accuracies in percent. That
# table labels its fifth row "Reasoning Questions" a second time; by the list of question types above it (and its
# place) it is the Future Predictions row.
PUBLISHED_VIDEOREFER_7B_BENCH_Q = {
    "Basic Questions": 75.4,
    "Sequential Questions": 68.6,
    "Relationship Questions": 59.3,
    "Reasoning Questions": 89.4,
    "Future Predictions": 78.1,
    "Average": 71.9,
}
# Bench-D scores (0-5) of the paper's VideoRefer-7B, single-frame mask mode / multi-frame mask mode.
PUBLISHED_VIDEOREFER_7B_BENCH_D = {
    "single": {
        "Subject Correspondence": 4.41,
        "Appearance Description": 3.27,
        "Temporal Description": 3.03,
        "Hallucination Detection": 2.97,
        "Average": 3.42,
    },
    "multi": {
        "Subject Correspondence": 4.44,
        "Appearance Description": 3.27,
        "Temporal Description": 3.10,
        "Hallucination Detection": 3.04,
        "Average": 3.46,
    },
}
