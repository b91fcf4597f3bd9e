"""The family settings of the user commands: detection from config.json / prediction lines, sampling options,
`<region>` layouts, chat messages and benchmark prompts (no model needed)."""

import json

import pytest

from transformers_videorefer.evaluation.bench_d import bench_d_samples
from transformers_videorefer.evaluation.bench_q import (
    bench_q_samples,
    build_bench_q_prompt,
)
from transformers_videorefer.evaluation.families import (
    VIDEOREFER,
    VIDEOREFER_VL3,
    family_of_config,
    family_of_folder,
    family_of_records,
    peek_family,
)

ITEM = {"Question": "What is <object1><region> doing?", "options": ["(A) a", "(B) b"]}


def write_config(folder, **config):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_family_from_config_json(tmp_path):
    assert family_of_folder(write_config(tmp_path / "a", model_type="videorefer_qwen2")) is VIDEOREFER
    vl3 = write_config(tmp_path / "b", model_type="videollama3_qwen2", region_token_index=406)
    assert family_of_folder(vl3) is VIDEOREFER_VL3 and peek_family(str(vl3)) is VIDEOREFER_VL3
    assert family_of_config({"model_type": "videorefer_vl3"}) is VIDEOREFER_VL3
    with pytest.raises(ValueError, match="plain VideoLLaMA3"):
        family_of_config({"model_type": "videollama3_qwen2"})  # no region encoder
    with pytest.raises(ValueError, match="'llama'"):
        family_of_config({"model_type": "llama"})
    assert family_of_folder(tmp_path) is None


def test_family_from_prediction_lines():
    assert family_of_records([{"id": 0, "mode": "single", "num_frames": 8}]) is VIDEOREFER
    assert family_of_records([{"id": 0, "fps": 1, "max_frames": 768}]) is VIDEOREFER_VL3
    assert family_of_records([{"id": 0}]) is None


def test_sampling_defaults_and_option_errors():
    assert VIDEOREFER_VL3.sampling({}, "bench-q") == {"fps": 1, "max_frames": 768}
    assert VIDEOREFER_VL3.sampling({"fps": 2.0}, "bench-d") == {"fps": 2.0, "max_frames": 768}
    assert VIDEOREFER_VL3.sampling({"fps": None}) == {}
    assert VIDEOREFER.sampling({}, "bench-d") == {"num_frames": 8}
    assert VIDEOREFER.sampling({}) == {"num_frames": None}
    with pytest.raises(ValueError, match="--num-frames does not apply to VideoRefer-VideoLLaMA3.*--fps, --max-frames"):
        VIDEOREFER_VL3.check_options({"num_frames": 8})
    with pytest.raises(ValueError, match="--fps does not apply to VideoRefer-7B"):
        VIDEOREFER.check_options({"fps": 1})
    with pytest.raises(ValueError, match="--fps must be above 0"):
        VIDEOREFER_VL3.check_options({"fps": 0})
    with pytest.raises(ValueError, match="Unknown benchmark"):
        VIDEOREFER.sampling({}, "bench-x")


def test_region_layouts():
    objects = [{3: "m"}, {0: "m", 6: "m"}]
    assert VIDEOREFER.layout_regions("[<region>] and [<region>]", objects) == "[<region>] and [<region>]"
    assert VIDEOREFER_VL3.layout_regions("<region> and <region>", objects) == "<region> and <region><region>"
    assert VIDEOREFER_VL3.question_text("Is [<region>] near <region>?") == "Is <region> near <region>?"
    with pytest.raises(ValueError, match="1 <region> marker.*2 object"):
        VIDEOREFER_VL3.layout_regions("<region>", objects)


def test_messages_put_the_media_where_the_family_does():
    assert VIDEOREFER.messages("Q?")[0]["content"] == [{"type": "video"}, {"type": "text", "text": "Q?"}]
    described = VIDEOREFER_VL3.messages(VIDEOREFER_VL3.bench_d_prompt)[0]["content"]
    assert described == [
        {"type": "text", "text": "Please describe in detail the marked object <region> in the video."},
        {"type": "video"},
    ]
    assert VIDEOREFER_VL3.messages("Q?", "image")[0]["content"] == [{"type": "image"}, {"type": "text", "text": "Q?"}]


def test_benchmark_prompts_of_each_family():
    closing = "(A) a (B) b. Answer with the option's letter from the given choices directly."
    assert build_bench_q_prompt(ITEM) == f"What is <object1>[<region>] doing? {closing}"
    assert build_bench_q_prompt(ITEM, VIDEOREFER_VL3) == f"What is <object1><region> doing? {closing}"


def test_samples_lay_out_multi_frame_objects_per_family():
    segmentation = {"segmentation": {"size": [4, 4], "counts": "0"}}
    item = {"id": 7, "video": "v", "caption": "c", "frame_idx": "0", "Answer": "(A) a", "type": "t",
            "annotation": [{"0": segmentation, "3": segmentation}], **ITEM}
    paths = {"v": "/v"}
    (q7,) = bench_q_samples([item], paths, "multi")
    (q3,) = bench_q_samples([item], paths, "multi", VIDEOREFER_VL3)
    assert q7.prompt.count("[<region>]") == 1 and q3.prompt.count("<region>") == 2 and "[" not in q3.prompt.split("?")[0]
    assert q3.record["question"] == q3.prompt
    (d3,) = bench_d_samples([item], paths, "single", VIDEOREFER_VL3)
    assert d3.prompt == VIDEOREFER_VL3.bench_d_prompt and list(d3.objects[0]) == ["0"]
