"""Applications on top of the model: the Gradio demo (`demo`), SAM2 segmentation and tracking (`sam2_tracking`) and
mask overlays (`visualization`)."""
