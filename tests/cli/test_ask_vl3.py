"""`videorefer ask --model <VideoRefer-VideoLLaMA3 checkpoint>`: the family's `<region>` layout (one marker per
(object, frame) mask), its chat messages and frame sampling (`--fps`, `--max-frames`; `--num-frames` refused)."""

import json

import pytest
import torch
from evaluation.benchmark_fixtures import rle, square_mask, write_mp4

from transformers_videorefer import cli
from transformers_videorefer.cli.ask import build_ask_inputs, objects_from_arguments
from transformers_videorefer.evaluation.families import VIDEOREFER_VL3

MAX_NEW_TOKENS = 3
HEIGHT, WIDTH = 48, 64
QUESTION = "Is [<region>] near <region>?"  # one marker per object; either form


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """A clip, object 1 with a mask on frame 3 and object 2 with masks on frames 0 and 6 (COCO RLE JSON files)."""
    folder = tmp_path_factory.mktemp("ask_vl3")
    write_mp4(folder / "clip.mp4")
    first = {"3": rle(square_mask(3, HEIGHT, WIDTH))}
    second = {str(frame): rle(square_mask(frame, HEIGHT, WIDTH, offset=HEIGHT // 2)) for frame in (0, 6)}
    (folder / "first.json").write_text(json.dumps(first))
    (folder / "second.json").write_text(json.dumps(second))
    return folder


@pytest.fixture(scope="module")
def model_and_processor(vl3_checkpoint):
    from transformers_videorefer.cli.loading import load_model_and_processor

    return load_model_and_processor(str(vl3_checkpoint), dtype="float32", device="cpu")


def processor_inputs(processor, media):
    """What the processor gives for the question written as VL3 takes it (one `<region>` per (object, frame)),
    sampled at 2 fps."""
    messages = [{"role": "user", "content": [{"type": "video"},
                                             {"type": "text", "text": "Is <region> near <region><region>?"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    objects = [{int(k): v for k, v in json.loads((media / name).read_text()).items()} for name in ("first.json", "second.json")]
    return text, processor(text=[text], videos=[str(media / "clip.mp4")], masks=[objects], fps=2)


def test_ask_prompt_and_ids_are_the_processors(media, model_and_processor):
    _, processor = model_and_processor
    objects = objects_from_arguments([str(media / "first.json"), str(media / "second.json")], None)
    prompt, inputs = build_ask_inputs(processor, VIDEOREFER_VL3, str(media / "clip.mp4"), QUESTION, objects, {"fps": 2})
    text, expected = processor_inputs(processor, media)
    assert prompt == text
    assert set(inputs) == set(expected)
    for key in expected:
        assert torch.equal(inputs[key], expected[key]), key
    assert inputs["region_grid_thw"].shape[0] == 3  # object 1 on one frame, object 2 on two


def test_ask_prints_the_answer_of_generate(vl3_checkpoint, media, model_and_processor, capsys):
    argv = ["ask", str(media / "clip.mp4"), QUESTION, "--mask", str(media / "first.json"), "--mask",
            str(media / "second.json"), "--model", str(vl3_checkpoint), "--dtype", "float32", "--device", "cpu",
            "--max-new-tokens", str(MAX_NEW_TOKENS), "--fps", "2"]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    model, processor = model_and_processor
    _, inputs = processor_inputs(processor, media)
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=MAX_NEW_TOKENS, do_sample=False)
    answer = processor.tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert answer.strip() and printed.strip() == answer.strip()


def test_num_frames_is_refused_in_one_line_before_loading(vl3_checkpoint, media, capsys, monkeypatch):
    from transformers_videorefer.cli import ask

    def no_loading(*args, **kwargs):
        raise AssertionError("the model must not be loaded")

    monkeypatch.setattr(ask, "load_model_and_processor", no_loading)
    argv = ["ask", str(media / "clip.mp4"), "What is <region>?", "--mask", str(media / "first.json"), "--model",
            str(vl3_checkpoint), "--num-frames", "8"]
    assert cli.main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "--num-frames does not apply to VideoRefer-VideoLLaMA3" in error
    assert cli.main(argv[:-2] + ["--max-frames", "0"]) == 2
    assert "--max-frames must be at least 1" in capsys.readouterr().err
