"""`videorefer data check` finds each planted defect."""

import json

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
