"""`videorefer data check` finds each planted defect."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transformers_videorefer.cli import main
from transformers_videorefer.training.data_check import check_data_file

from .training_fixtures import samples, write_dataset


def _planted(root):
    records = samples()
    good = len(records)
    records.append({**samples()[0], "id": "missing", "video": "no_such_clip"})
    (root / "broken.mp4").write_bytes(b"\x00not a video" * 50)
    records.append({**samples()[0], "id": "unreadable", "video": "broken.mp4"})
    bad_rle = samples()[2]
    bad_rle["id"] = "bad-segmentation"
    bad_rle["annotation"] = [{"0": {"segmentation": {"size": [60, 80], "counts": "!!!"}}}]
    records.append(bad_rle)
    out_of_range = samples()[0]
    out_of_range["id"] = "frame-out-of-range"
    out_of_range["annotation"] = [{"99": {"segmentation": None}}]
    records.append(out_of_range)
    mismatch = samples()[0]
    mismatch["id"] = "region-mismatch"
    mismatch["annotation"] = mismatch["annotation"] * 2
    records.append(mismatch)
    return records, good


def test_each_planted_defect_is_found(tmp_path):
    records, good = _planted(tmp_path)
    path = write_dataset(tmp_path, records)
    report = check_data_file(path, str(tmp_path), progress=False)
    assert report.num_samples == good + 5
    kinds = {(d.sample_id, d.kind) for d in report.defects}
    assert kinds == {
        ("missing", "missing_media"),
        ("unreadable", "unreadable_media"),
        ("bad-segmentation", "bad_segmentation"),
        ("frame-out-of-range", "frame_out_of_range"),
        ("region-mismatch", "region_count_mismatch"),
    }
    assert report.counts["missing_media"] == 1 and report.counts["bad_sample"] == 0
    assert report.invalid_ids == sorted(["missing", "unreadable", "bad-segmentation", "frame-out-of-range", "region-mismatch"])


def test_cli_reports_and_exits_nonzero(tmp_path, capsys):
    records, _ = _planted(tmp_path)
    path = write_dataset(tmp_path, records)
    status = main(["data", "check", str(path), "--media-root", str(tmp_path), "--quiet", "--json", str(tmp_path / "r.json")])
    assert status == 1
    out = capsys.readouterr().out
    assert "missing_media: 1" in out and "[unreadable_media] sample unreadable" in out
    assert json.loads((tmp_path / "r.json").read_text())["counts"]["region_count_mismatch"] == 1
    clean = write_dataset(tmp_path, samples(), "clean.json")
    assert main(["data", "check", str(clean), "--media-root", str(tmp_path), "--quiet"]) == 0


def test_samples_the_original_trains_surprisingly_are_noted_with_counts(tmp_path, processor):
    records = samples()
    no_marker = {**samples()[0], "id": "no-marker", "annotation": None,
                 "conversations": [{"from": "human", "value": "Describe it."}, {"from": "gpt", "value": "A square."}]}
    unsorted = samples()[0]
    unsorted["id"] = "unsorted"
    unsorted["annotation"] = [dict(reversed(list(unsorted["annotation"][0].items())))]
    image_n = samples()[2]
    image_n["id"] = "image-frame-5"
    image_n["annotation"] = [{"5": image_n["annotation"][0]["0"]}]
    long = samples()[3]
    long["id"] = "long"
    long["conversations"][1]["value"] = "hello " * 200
    records += [no_marker, unsorted, image_n, long]
    path = write_dataset(tmp_path, records)
    report = check_data_file(path, str(tmp_path), progress=False, processor=processor, model_max_length=300)
    assert report.defects == []  # all of them train, as in the original
    assert {(n.sample_id, n.kind) for n in report.notes} == {
        ("no-marker", "no_media_marker"),
        ("unsorted", "unsorted_frame_keys"),
        ("image-frame-5", "image_frame_key_not_0"),
        ("long", "cut_at_model_max_length"),
    }
    assert report.note_counts == {"no_media_marker": 1, "unsorted_frame_keys": 1, "image_frame_key_not_0": 1,
                                  "cut_at_model_max_length": 1}
    assert "image_frame_key_not_0: 1" in report.format()
    # without a processor the length is not counted, the rest is noted all the same
    assert check_data_file(path, str(tmp_path), progress=False).note_counts["cut_at_model_max_length"] == 0


def _malformed() -> list[dict]:
    """Samples with one malformed field each: id -> the words its defect message must hold."""
    def video(**fields):
        return {**samples()[0], **fields}

    def image(**fields):
        return {**samples()[2], **fields}

    def with_segmentation(sid, segmentation):
        record = samples()[0]
        record["id"] = sid
        record["annotation"] = [{"0": {"segmentation": segmentation}}]
        return record

    from_list = samples()[0]
    from_list["id"] = "from-list"
    from_list["conversations"][0]["from"] = ["human"]
    return [
        video(id="number-video", video=5),
        video(id="list-video", video=["clip"]),
        video(id="empty-video", video=""),
        image(id="number-image", image=3.5),
        image(id="dict-image", image={"path": "still.png"}),
        video(id="height-abc", height="abc", width=80),
        video(id="width-list", height=60, width=[80]),
        video(id="height-bool", height=True, width=80),
        video(id="height-fraction", height=60.5, width=80),
        video(id="height-negative", height=-60, width=80),
        from_list,
        video(id="annotation-dict", annotation={"0": {"segmentation": None}}),
        video(id="object-list", annotation=[[1, 2]]),
        video(id="conversation-dict", conversations={"from": "human", "value": "<video>"}),
        with_segmentation("rle-size-abc", {"size": ["abc", 80], "counts": "abc"}),
        with_segmentation("rle-size-number", {"size": 60, "counts": "abc"}),
        with_segmentation("rle-counts-number", {"size": [60, 80], "counts": 5}),
        with_segmentation("polygon-strings", [["a", "b", "c", "d", "e", "f"]]),
        with_segmentation("segmentation-string", "abc"),
    ]


EXPECTED_MALFORMED = {
    "number-video": ("bad_sample", "'video' must be a file or folder path"),
    "list-video": ("bad_sample", "'video' must be a file or folder path"),
    "empty-video": ("bad_sample", "'video' must be a file or folder path"),
    "number-image": ("bad_sample", "'image' must be a file or folder path"),
    "dict-image": ("bad_sample", "'image' must be a file or folder path"),
    "height-abc": ("bad_sample", "'height' must be a positive integer"),
    "width-list": ("bad_sample", "'width' must be a positive integer"),
    "height-bool": ("bad_sample", "'height' must be a positive integer"),
    "height-fraction": ("bad_sample", "'height' must be a positive integer"),
    "height-negative": ("bad_sample", "'height' must be a positive integer"),
    "from-list": ("bad_sample", "turn 0: 'from' must be 'human' or 'gpt'"),
    "annotation-dict": ("bad_sample", "'annotation' must be a list"),
    "object-list": ("bad_sample", "object 0 must be a non-empty"),
    "conversation-dict": ("bad_sample", "'conversations' must be a non-empty list"),
    "rle-size-abc": ("bad_segmentation", "object 0, frame 0: RLE 'size'"),
    "rle-size-number": ("bad_segmentation", "object 0, frame 0: RLE 'size'"),
    "rle-counts-number": ("bad_segmentation", "object 0, frame 0: RLE 'counts'"),
    "polygon-strings": ("bad_segmentation", "object 0, frame 0: a polygon"),
    "segmentation-string": ("bad_segmentation", "object 0, frame 0: a mask must be"),
}


def test_every_malformed_field_is_a_defect_naming_the_sample(tmp_path):
    records = _malformed()
    path = write_dataset(tmp_path, records)
    report = check_data_file(path, str(tmp_path), progress=False)
    assert report.num_samples == len(EXPECTED_MALFORMED)
    found = {}
    for defect in report.defects:
        found.setdefault(defect.sample_id, []).append(defect)
    assert set(found) == set(EXPECTED_MALFORMED)
    for sid, (kind, words) in EXPECTED_MALFORMED.items():
        assert len(found[sid]) == 1, found[sid]
        assert found[sid][0].kind == kind and words in found[sid][0].message, found[sid][0]
        if kind == "bad_sample":
            assert f"sample {sid}" in found[sid][0].message
    assert "[bad_sample] sample number-video: " in report.format(limit=100)


def test_sizes_as_json_files_hold_them_are_accepted(tmp_path):
    records = [{**samples()[0], "id": "strings", "height": "60", "width": "80"},
               {**samples()[0], "id": "floats", "height": 60.0, "width": 80.0},
               {**samples()[0], "id": "wrong", "height": 61, "width": 80}]
    report = check_data_file(write_dataset(tmp_path, records), str(tmp_path), progress=False)
    assert [(d.sample_id, d.kind) for d in report.defects] == [("wrong", "bad_segmentation")]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 100) | st.floats(allow_nan=True) | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=8,
)
FIELDS = ("video", "image", "height", "width", "annotation", "conversations")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELDS), value=JSON_VALUES, base=st.integers(0, 3))
def test_any_value_in_any_field_is_reported_never_raised(tmp_path, field, value, base):
    record = {**samples()[base], "id": "fuzzed", field: value}
    if field == "image" and base != 2:
        record.pop("video", None)
    path = write_dataset(tmp_path, [record])
    report = check_data_file(path, str(tmp_path), progress=False)
    assert all(defect.sample_id == "fuzzed" for defect in report.defects + report.notes)
    assert all(defect.message for defect in report.defects)
