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
