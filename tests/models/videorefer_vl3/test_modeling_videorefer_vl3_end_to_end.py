"""From the raw media, masks and chat messages of each golden case, through AutoProcessor and the model."""

import pytest
import torch
from golden_vl3 import VL3_CASES, load_vl3_case

GREEDY = {"max_new_tokens": 8, "min_new_tokens": 8, "do_sample": False, "repetition_penalty": 1.0, "eos_token_id": None}


@pytest.fixture(scope="module")
def loaded(vl3_golden_dir):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    import transformers_videorefer  # noqa: F401  (registers the model types)

    checkpoint = vl3_golden_dir / "checkpoint"
    return AutoProcessor.from_pretrained(checkpoint), AutoModelForImageTextToText.from_pretrained(checkpoint).eval()


def processor_inputs(processor, golden_dir, name: str):
    """The processor's output for a case, from its media file / folder, its annotation and its question."""
    from transformers_videorefer.models.videorefer_vl3.processing_videorefer_vl3 import (
        messages_from_question,
    )

    case, expected = load_vl3_case(golden_dir, name)
    media = str(golden_dir / "cases" / name / case["media"])
    kwargs = {"images" if case["modality"] == "image" else "videos": [media], "masks": [case["annotation"]]}
    if case["modality"] == "video":
        kwargs.update(fps=case["fps"], max_frames=case["max_frames"])
    prompt = processor.apply_chat_template(messages_from_question(case["question"], case["modality"]), add_generation_prompt=True)
    return processor(text=[prompt], return_tensors="pt", **kwargs), case, expected


@pytest.mark.parametrize("name", VL3_CASES)
def test_from_raw_media_the_llm_sees_the_original_sequence_logits_and_greedy_tokens(loaded, vl3_golden_dir, name):
    processor, model = loaded
    inputs, case, expected = processor_inputs(processor, vl3_golden_dir, name)
    assert torch.equal(inputs["input_ids"][0], expected["input_ids"])
    with torch.no_grad():
        logits = model(**inputs).logits
    assert logits.shape[1] == case["expanded_length"]
    assert (logits[0] - expected["logits"]).abs().max().item() <= 1e-4
    sequences = model.generate(**inputs, **GREEDY)
    assert sequences[0, inputs["input_ids"].shape[1] :].tolist() == expected["generated_ids"].tolist()
