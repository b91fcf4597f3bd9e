"""VideoRefer-700K samples <-> `trl sft` conversational rows: lossless round trip, rendering, files and errors."""

import json
from pathlib import Path

import numpy as np
import pytest
from transformers.utils.chat_template_utils import render_jinja_template

import transformers_videorefer
from transformers_videorefer.inputs.masks import decode_segmentation
from transformers_videorefer.inputs.media import load_image, open_clip
from transformers_videorefer.training.data import decode_row, flatten_record
from transformers_videorefer.training.examples import prepare_example
from transformers_videorefer.training.trl_format import (
    from_trl_row,
    from_trl_rows,
    read_trl_rows,
    to_trl_row,
    to_trl_rows,
    write_trl_rows,
)

from .training_fixtures import samples, write_media

CHAT_TEMPLATE = (
    Path(transformers_videorefer.__file__).parent / "models" / "videorefer" / "chat_template.jinja"
).read_text()


def parsed(record: dict, index: int, media_root: Path) -> dict:
    """What the package's collator takes from a sample: prompt, targets, media, and each object's frames in order
    with its masks decoded at the media's size."""
    example = prepare_example(decode_row(flatten_record(record, index)), CHAT_TEMPLATE, media_root=str(media_root))
    size = None
    if example.kind == "video":
        clip = open_clip(example.media)
        size = (clip.height, clip.width)
    elif example.kind == "image":
        size = load_image(example.media).shape[:2]
    objects = [
        [(frame, decode_segmentation(segmentation, size).astype(bool).tolist()) for frame, segmentation in obj.items()]
        for obj in example.objects
    ]
    media = None if example.media is None else str(Path(example.media).resolve())
    return {"id": example.sample_id, "text": example.text, "targets": example.target_spans, "kind": example.kind,
            "media": media, "objects": objects}


@pytest.fixture
def media_root(tmp_path) -> Path:
    write_media(tmp_path)
    return tmp_path


def test_fixtures_round_trip_without_loss(media_root):
    rows = to_trl_rows(samples(), str(media_root))
    back = from_trl_rows(rows, str(media_root))
    for index, (original, again) in enumerate(zip(samples(), back)):
        assert parsed(again, index, media_root) == parsed(original, index, media_root)
    # RLE samples come back identical, field for field; the polygon of sample 1 comes back as its RLE
    assert back[0] == samples()[0] and back[2] == samples()[2] and back[3] == samples()[3]
    assert back[1]["conversations"] == samples()[1]["conversations"]


def test_rows_hold_region_and_media_blocks_in_order(media_root):
    rows = to_trl_rows(samples(), str(media_root))
    first = rows[0]["messages"][0]["content"]
    assert [block["type"] for block in first] == ["video", "text", "region", "text"]
    assert first[0]["path"] == str(media_root / "clip") and Path(first[0]["path"]).is_absolute()
    assert [mask["frame"] for mask in first[2]["masks"]] == [0, 2, 4, 6]
    assert first[2]["masks"][0]["size"] == [60, 80] and isinstance(first[2]["masks"][0]["counts"], str)
    two = rows[1]["messages"]
    assert [block["type"] for block in two[0]["content"]] == ["text", "region", "text", "region", "text", "video"]
    assert len(two) == 4 and two[3] == {"role": "assistant", "content": [{"type": "text", "text": "The ball."}]}
    image = rows[2]["messages"][0]["content"][0]
    assert image == {"type": "image", "image": str(media_root / "still.png")}
    assert all(row["images"] == [] for row in rows)


def _with_regions_as_text(messages: list[dict]) -> list[dict]:
    return [
        {**m, "content": [{"type": "text", "text": "<region>"} if b["type"] == "region" else b for b in m["content"]]}
        for m in messages
    ]


def test_rows_render_to_the_collators_prompt_and_targets(media_root):
    for index, (record, row) in enumerate(zip(samples(), to_trl_rows(samples(), str(media_root)))):
        rendered, generation = render_jinja_template(
            [_with_regions_as_text(row["messages"])], chat_template=CHAT_TEMPLATE, return_assistant_tokens_mask=True
        )
        expected = parsed(record, index, media_root)
        assert rendered[0] == expected["text"]
        assert [list(span) for span in generation[0]] == [list(span) for span in expected["targets"]]


@pytest.mark.parametrize("file_format", ["jsonl", "arrow"])
def test_files_read_back_to_the_same_samples(media_root, tmp_path, file_format):
    rows = to_trl_rows(samples(), str(media_root))
    destination = tmp_path / ("rows.jsonl" if file_format == "jsonl" else "rows")
    write_trl_rows(rows, destination, file_format)
    read = read_trl_rows(destination)
    assert len(read) == 4
    if file_format == "arrow":  # Arrow gives every block every key: None where it does not apply
        assert read[0]["messages"][0]["content"][1]["masks"] is None
    else:
        assert read == rows
    for index, (original, again) in enumerate(zip(samples(), from_trl_rows(read, str(media_root)))):
        assert parsed(again, index, media_root) == parsed(original, index, media_root)


def test_leading_answer_and_unmarked_media_follow_the_collator(media_root):
    record = {"id": "odd", "video": "clip", "conversations": [
        {"from": "gpt", "value": "Hi."}, {"from": "human", "value": "Hello?"}, {"from": "gpt", "value": "Yes."}]}
    row = to_trl_row(record, 0, str(media_root))
    assert [m["role"] for m in row["messages"]] == ["user", "assistant"]  # a leading answer is dropped
    assert all(b["type"] == "text" for m in row["messages"] for b in m["content"])  # no marker: text only
    assert parsed(from_trl_row(row), 0, media_root)["text"] == parsed(record, 0, media_root)["text"]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r: r["annotation"].append(r["annotation"][0]), "holds 1 <region> marker"),
        (lambda r: r["conversations"][1].update(value="<video> too"), "more than one turn"),
        (lambda r: r.pop("video"), "no video or image"),
        (lambda r: r["conversations"].pop(1), "no answer"),
    ],
)
def test_samples_the_collator_refuses_are_refused_with_their_id(media_root, change, message):
    record = samples()[0]
    change(record)
    with pytest.raises(ValueError, match=f"video-track.*{message}"):
        to_trl_row(record, 0, str(media_root))


def test_polygons_need_the_media_and_unknown_blocks_are_refused(tmp_path, media_root):
    with pytest.raises(FileNotFoundError, match="ball.mp4"):
        to_trl_row(samples()[1], 1, str(tmp_path / "elsewhere"))
    row = to_trl_rows(samples()[:1], str(media_root))[0]
    row["messages"][0]["content"].append({"type": "audio", "path": "x.wav"})
    with pytest.raises(ValueError, match="unknown type 'audio'"):
        from_trl_row(row)


def test_polygon_becomes_the_rle_of_the_same_mask(media_root):
    row = to_trl_row(samples()[1], 1, str(media_root))
    mask = row["messages"][0]["content"][1]["masks"][0]
    polygon = samples()[1]["annotation"][0]["6"]["segmentation"]
    expected = decode_segmentation(polygon, (120, 160))
    assert np.array_equal(decode_segmentation({"size": mask["size"], "counts": mask["counts"]}, (120, 160)), expected)
    assert json.loads(json.dumps(row)) == row  # plain JSON types only
