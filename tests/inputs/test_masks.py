"""Object masks for VideoReferProcessor: every mask form, multi-frame objects and the batch layout of region inputs,
errors, and a fuzz test of the annotation parser."""

import importlib.util
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image
from pycocotools import mask as mask_utils

import transformers_videorefer  # noqa: F401  (registers the Auto classes)
from helpers import uncompressed_rle
from transformers_videorefer.inputs import masks as masks_videorefer
from transformers_videorefer.inputs.masks import box_to_mask, compressed_rle_counts, decode_segmentation, normalize_object
from transformers_videorefer.models.videorefer.modeling_videorefer_region import resize_masks_to_grid

HEIGHT, WIDTH, NUM_FRAMES = 45, 60, 12
ONE_REGION = "<video>\nWhat is [<region>] doing?"


# ------------------------------------------------------------------------------------------------ fixtures
def _clip(seed: int, num_frames: int = NUM_FRAMES) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (num_frames, HEIGHT, WIDTH, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def clip():
    return _clip(0)


@pytest.fixture(scope="module")
def other_clip():
    return _clip(1)


def _disc(cy: float, cx: float, radius: float, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    yy, xx = np.mgrid[:height, :width]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2


@pytest.fixture(scope="module")
def reference_mask():
    """An irregular binary mask (two discs), (HEIGHT, WIDTH) bool."""
    return _disc(20, 18, 9) | _disc(12, 40, 6)


def _at_grid(processor, mask) -> torch.Tensor:
    """What the processor should produce: the decoded mask resized to the grid as the original does."""
    mask = torch.as_tensor(np.asarray(mask, dtype=np.float32))
    return resize_masks_to_grid(mask[None], processor.grid_size)[0]


def _frame_pixels(processor, frames) -> torch.Tensor:
    """Preprocessed frames, through the image path of the processor."""
    return processor(text=["<image>\nx"] * len(frames), images=list(frames))["pixel_values"]


# ------------------------------------------------------------------------------------------ mask forms
def _polygons():
    return [[5.0, 5.0, 30.0, 8.0, 25.0, 35.0, 8.0, 30.0], [40, 10, 55, 10, 55, 25, 40, 25]]


MASK_FORMS = [
    "numpy_bool",
    "numpy_uint8",
    "numpy_float",
    "numpy_1hw",
    "torch_bool",
    "torch_float",
    "pil_L",
    "pil_1",
    "rle_compressed_str",
    "rle_compressed_bytes",
    "rle_uncompressed",
    "annotation_dict",
    "polygons",
    "polygon_flat",
]


def _mask_form(form: str, mask: np.ndarray):
    """(segmentation in the given form, the binary mask it stands for)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    if form == "numpy_bool":
        return mask, mask
    if form == "numpy_uint8":
        return mask.astype(np.uint8) * 255, mask
    if form == "numpy_float":
        return mask.astype(np.float64), mask
    if form == "numpy_1hw":
        return mask[None].astype(np.uint8), mask
    if form == "torch_bool":
        return torch.from_numpy(mask.copy()), mask
    if form == "torch_float":
        return torch.from_numpy(mask.astype(np.float32)), mask
    if form == "pil_L":
        return Image.fromarray(mask.astype(np.uint8) * 255, mode="L"), mask
    if form == "pil_1":
        return Image.fromarray(mask), mask
    if form == "rle_compressed_str":
        return {"size": rle["size"], "counts": rle["counts"].decode("ascii")}, mask
    if form == "rle_compressed_bytes":
        return rle, mask
    if form == "rle_uncompressed":
        uncompressed = uncompressed_rle(mask)
        # the encoding is COCO's: pycocotools reads it back to the same mask
        encoded = mask_utils.frPyObjects(uncompressed, *uncompressed["size"])
        assert np.array_equal(mask_utils.decode(encoded), mask.astype(np.uint8))
        return uncompressed, mask
    if form == "annotation_dict":
        return {"segmentation": {"size": rle["size"], "counts": rle["counts"].decode("ascii")}}, mask
    if form == "polygons":
        polygons = _polygons()
        decoded = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polygons, HEIGHT, WIDTH)))
        return polygons, decoded.astype(bool)
    if form == "polygon_flat":
        polygon = _polygons()[0]
        decoded = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([polygon], HEIGHT, WIDTH)))
        return polygon, decoded.astype(bool)
    raise AssertionError(form)


@pytest.mark.parametrize("form", MASK_FORMS)
def test_mask_forms_on_video(processor, clip, reference_mask, form):
    segmentation, mask = _mask_form(form, reference_mask)
    assert mask.any()
    inputs = processor(text=ONE_REGION, videos=[clip], masks=[[{3: segmentation}]])
    assert inputs["region_masks"].shape == (1, processor.grid_size, processor.grid_size)
    assert torch.equal(inputs["region_masks"][0], _at_grid(processor, mask))
    assert inputs["region_mask_frame_index"].tolist() == [0]
    assert inputs["region_masks_per_object"].tolist() == [1]
    assert torch.equal(inputs["region_pixel_values"], _frame_pixels(processor, [clip[3]]))
    # the decoded mask itself, at clip resolution
    decoded = decode_segmentation(segmentation, (HEIGHT, WIDTH))
    assert decoded.dtype == np.float32 and decoded.shape == (HEIGHT, WIDTH)
    assert np.array_equal(decoded > 0, mask)


@pytest.mark.parametrize("form", ["rle_compressed_str", "rle_uncompressed", "numpy_bool", "polygons"])
def test_mask_forms_on_image(processor, clip, reference_mask, form):
    segmentation, mask = _mask_form(form, reference_mask)
    for objects in ([segmentation], [{0: segmentation}], [{"0": segmentation}]):
        inputs = processor(text="<image>\n[<region>]?", images=[clip[0]], masks=[objects])
        assert torch.equal(inputs["region_masks"][0], _at_grid(processor, mask)), objects
        assert torch.equal(inputs["region_pixel_values"], inputs["pixel_values"])


def test_bare_mask_list_for_single_image_sample(processor, clip, reference_mask):
    """For one sample, `masks` may be the object list itself; for an image, an object may be a bare mask."""
    expected = _at_grid(processor, reference_mask)
    inputs = processor(text="<image>\n[<region>]?", images=clip[0], masks=[reference_mask])
    assert torch.equal(inputs["region_masks"][0], expected)
    inputs = processor(text="<image>\n[<region>]?", images=clip[0], masks=[{"segmentation": uncompressed_rle(reference_mask)}])
    assert torch.equal(inputs["region_masks"][0], expected)


@pytest.mark.parametrize(
    "box, rows, cols",
    [
        ([10, 5, 30, 20], slice(5, 20), slice(10, 30)),
        ([10.2, 5.7, 29.5, 19.1], slice(5, 20), slice(10, 30)),  # fractional: floor / ceil
        ([-10, -3, 8, 12], slice(0, 12), slice(0, 8)),  # clipped to the clip
        ([50, 40, 500, 400], slice(40, HEIGHT), slice(50, WIDTH)),
    ],
)
def test_boxes(processor, clip, box, rows, cols):
    expected = np.zeros((HEIGHT, WIDTH), dtype=bool)
    expected[rows, cols] = True
    for given in (box, np.array(box, dtype=np.float64), torch.tensor(box, dtype=torch.float32)):
        inputs = processor(text=ONE_REGION, videos=[clip], boxes=[[{2: given}]])
        assert torch.equal(inputs["region_masks"][0], _at_grid(processor, expected))
        assert torch.equal(inputs["region_pixel_values"], _frame_pixels(processor, [clip[2]]))
    inputs = processor(text="<image>\n[<region>]?", images=[clip[0]], boxes=[[box]])
    assert torch.equal(inputs["region_masks"][0], _at_grid(processor, expected))
    assert np.array_equal(box_to_mask(box, (HEIGHT, WIDTH)).astype(bool), expected)


def test_none_mask_is_empty(processor, clip):
    inputs = processor(text=ONE_REGION, videos=[clip], masks=[[{1: None}]])
    assert inputs["region_masks"].sum() == 0
    assert inputs["region_masks_per_object"].tolist() == [1]


# ---------------------------------------------------------------------------------- multi-frame layout
def test_multi_frame_object_keeps_the_annotations_frame_order(processor, clip):
    """The masks of an object stay in the order given (the original pools and merges them in that order); the
    frames they lie on are laid out once each, by frame index."""
    masks = {frame: _disc(10 + frame * 2, 10 + frame * 3, 5) for frame in (8, 2, 5)}
    inputs = processor(text=ONE_REGION, videos=[clip], masks=[[{8: masks[8], 2: masks[2], "5": masks[5]}]])
    assert inputs["region_masks_per_object"].tolist() == [3]
    assert inputs["region_mask_frame_index"].tolist() == [2, 0, 1]  # frame rows 2, 5, 8
    expected = torch.stack([_at_grid(processor, masks[frame]) for frame in (8, 2, 5)])
    assert torch.equal(inputs["region_masks"], expected)
    assert torch.equal(inputs["region_pixel_values"], _frame_pixels(processor, clip[[2, 5, 8]]))


def test_region_layout_two_samples(processor, clip, other_clip):
    """Sample 0: two objects sharing frame 4; sample 1: one object. Frames once each, per sample in frame order;
    each object's masks in the order its annotation gives them."""
    a, b, c, d, e = (_disc(5 + 7 * i, 8 + 9 * i, 4 + i) for i in range(5))
    texts = ["<video>\n[<region>] and [<region>]?", "<video>\nWhat is [<region>]?"]
    masks = [[{4: b, 0: a}, {8: d, 4: c}], [{2: e}]]
    inputs = processor(text=texts, videos=[clip, other_clip], masks=masks)

    assert inputs["region_masks_per_object"].tolist() == [2, 2, 1]
    # rows of region_pixel_values: clip frames 0, 4, 8 (frame 4 once), then other_clip frame 2
    assert inputs["region_mask_frame_index"].tolist() == [1, 0, 2, 1, 3]  # masks b (4), a (0), d (8), c (4), e (2)
    expected_frames = torch.cat([_frame_pixels(processor, clip[[0, 4, 8]]), _frame_pixels(processor, other_clip[[2]])])
    assert torch.equal(inputs["region_pixel_values"], expected_frames)
    expected_masks = torch.stack([_at_grid(processor, m) for m in (b, a, d, c, e)])
    assert torch.equal(inputs["region_masks"], expected_masks)

    # <region> placeholders: min(masks, region_token_num) per object, in order
    region_counts = (inputs["input_ids"] == processor.region_token_id).sum(1).tolist()
    assert region_counts == [4, 1]


def test_region_layout_mixed_image_video_and_text(processor, clip, other_clip, reference_mask):
    texts = ["<image>\n[<region>]", "no media here", "<video>\n[<region>] [<region>]"]
    masks = [[reference_mask], [], [{7: reference_mask, 1: reference_mask}, {7: reference_mask}]]
    inputs = processor(text=texts, images=[clip[5]], videos=[other_clip], masks=masks)
    assert inputs["region_masks_per_object"].tolist() == [1, 2, 1]
    assert inputs["region_mask_frame_index"].tolist() == [0, 2, 1, 2]  # object 1 is on frames 7 then 1
    expected_frames = torch.cat([_frame_pixels(processor, [clip[5]]), _frame_pixels(processor, other_clip[[1, 7]])])
    assert torch.equal(inputs["region_pixel_values"], expected_frames)


def test_many_masks_merge_to_region_token_num(processor, clip):
    obj = {frame: _disc(20, 5 + 4 * frame, 4) for frame in range(NUM_FRAMES)}
    inputs = processor(text=ONE_REGION, videos=[clip], masks=[[obj]])
    assert inputs["region_masks_per_object"].tolist() == [NUM_FRAMES]
    assert inputs["region_pixel_values"].shape[0] == NUM_FRAMES
    assert int((inputs["input_ids"] == processor.region_token_id).sum()) == processor.region_token_num


# -------------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "segmentation",
    [
        np.ones((HEIGHT + 1, WIDTH), dtype=bool),
        torch.ones(WIDTH, HEIGHT, dtype=torch.bool),
        Image.new("L", (HEIGHT, WIDTH)),
    ],
    ids=["numpy", "torch_transposed", "pil"],
)
def test_error_mask_size_differs_from_clip(processor, clip, segmentation):
    with pytest.raises(ValueError, match=rf"sample 0, object 0, frame 3: the mask.* is \d+x\d+ .* but the clip is {HEIGHT}x{WIDTH}"):
        processor(text=ONE_REGION, videos=[clip], masks=[[{3: segmentation}]])


def test_error_rle_size_differs_from_clip(processor, clip):
    rle = mask_utils.encode(np.asfortranarray(np.ones((HEIGHT, WIDTH + 2), dtype=np.uint8)))
    with pytest.raises(ValueError, match=rf"the RLE is {HEIGHT}x{WIDTH + 2} .* but the clip is {HEIGHT}x{WIDTH}"):
        processor(text=ONE_REGION, videos=[clip], masks=[[{0: rle}]])
    uncompressed = uncompressed_rle(np.ones((HEIGHT - 1, WIDTH)))
    with pytest.raises(ValueError, match=rf"the RLE is {HEIGHT - 1}x{WIDTH} .* but the clip is {HEIGHT}x{WIDTH}"):
        processor(text=ONE_REGION, videos=[clip], masks=[[{0: uncompressed}]])


def test_error_rle_counts_do_not_cover_the_clip(processor, clip):
    with pytest.raises(ValueError, match=r"uncompressed RLE 'counts' cover 10 pixels, the clip has 2700"):
        processor(text=ONE_REGION, videos=[clip], masks=[[{0: {"size": [HEIGHT, WIDTH], "counts": [5, 5]}}]])
    with pytest.raises(ValueError, match=r"compressed RLE 'counts' do not describe a 45x60 mask"):
        processor(text=ONE_REGION, videos=[clip], masks=[[{0: {"size": [HEIGHT, WIDTH], "counts": "52"}}]])
    with pytest.raises(ValueError, match=r"outside COCO's alphabet"):
        processor(text=ONE_REGION, videos=[clip], masks=[[{0: {"size": [HEIGHT, WIDTH], "counts": "~~~~"}}]])
    with pytest.raises(ValueError, match=r"ends in the middle of a number"):
        processor(text=ONE_REGION, videos=[clip], masks=[[{0: {"size": [HEIGHT, WIDTH], "counts": "0P"}}]])


def test_error_frame_index_past_the_end(processor, clip, reference_mask):
    with pytest.raises(ValueError, match=r"object 0: frame index 12 is past the end of the clip, which has 12 frame"):
        processor(text=ONE_REGION, videos=[clip], masks=[[{12: reference_mask}]])


@pytest.mark.parametrize("key", [-1, "-3"])
def test_error_negative_frame_index(processor, clip, reference_mask, key):
    with pytest.raises(ValueError, match=r"frame index -\d+ is negative"):
        processor(text=ONE_REGION, videos=[clip], masks=[[{key: reference_mask}]])


@pytest.mark.parametrize(
    "segmentation, error, pattern",
    [
        ({1, 2, 3}, TypeError, r"a mask must be a numpy array, .* got set"),
        ("not json at all", TypeError, r"a mask must be a numpy array, .* got str"),
        (42, TypeError, r"a mask must be .* got int"),
        (np.array([["a", "b"]]), TypeError, r"mask array must be numeric or boolean"),
        (np.ones((2, HEIGHT, WIDTH)), ValueError, r"mask array must be 2-D"),
        (np.full((HEIGHT, WIDTH), np.nan), ValueError, r"NaN or infinite"),
        ({"size": [HEIGHT, WIDTH]}, ValueError, r"a COCO RLE needs 'size' and 'counts'"),
        ({"size": [HEIGHT, WIDTH], "counts": 3.0}, TypeError, r"RLE 'counts' must be a string .* or a list of ints"),
        ({"size": "45x60", "counts": "0"}, ValueError, r"RLE 'size' must be \[height, width\]"),
        ([], ValueError, r"an empty list is not a segmentation"),
        ([[1, 2, 3, 4]], ValueError, r"a polygon needs an even number \(>= 6\) of coordinates, got 4"),
        ([[1, 2, "x", 4, 5, 6]], TypeError, r"a polygon must be a flat list of numbers"),
        ([[1, 2, float("inf"), 4, 5, 6]], ValueError, r"polygon coordinates must be finite"),
    ],
    ids=["set", "str", "int", "str_array", "3d", "nan", "rle_no_counts", "counts_float", "size_str", "empty_list",
         "short_polygon", "polygon_str", "polygon_inf"],
)
def test_error_bad_mask_values(processor, clip, segmentation, error, pattern):
    with pytest.raises(error, match=pattern):
        processor(text=ONE_REGION, videos=[clip], masks=[[{0: segmentation}]])


@pytest.mark.parametrize(
    "obj, error, pattern",
    [
        ({}, ValueError, r"an object needs at least one \{frame_index: mask\} entry"),
        ([np.ones((HEIGHT, WIDTH))], TypeError, r"a video object must be a dict \{frame_index: mask\}"),
        (np.ones((HEIGHT, WIDTH)), TypeError, r"a video object must be a dict \{frame_index: mask\}"),
        ({1.5: None}, TypeError, r"frame index 1.5 must be an int"),
        ({True: None}, TypeError, r"frame index True must be an int"),
        ({"first": None}, TypeError, r"frame index 'first' must be an int"),
    ],
    ids=["empty", "list", "bare_mask_for_video", "float_key", "bool_key", "word_key"],
)
def test_error_bad_objects(processor, clip, obj, error, pattern):
    with pytest.raises(error, match=pattern):
        processor(text=ONE_REGION, videos=[clip], masks=[[obj]])


def test_error_image_mask_on_other_frame(processor, clip, reference_mask):
    with pytest.raises(ValueError, match=r"an image has a single frame, 0; got a mask for frame 1"):
        processor(text="<image>\n[<region>]", images=[clip[0]], masks=[[{1: reference_mask}]])


@pytest.mark.parametrize(
    "box, error, pattern",
    [
        ([1, 2, 3], ValueError, r"a box must be \[x1, y1, x2, y2\]"),
        ([5, 5, 2, 9], ValueError, r"a box needs x2 > x1 and y2 > y1"),
        ([100, 100, 200, 200], ValueError, r"lies outside the 60x45 clip"),
        ([0, 0, float("nan"), 4], ValueError, r"box coordinates must be finite numbers"),
        ([0, 0, 10**400, 4], ValueError, r"box coordinates must be finite numbers of a sensible size"),
        (["a", 0, 1, 1], TypeError, r"box coordinates must be numbers"),
    ],
)
def test_error_bad_boxes(processor, clip, box, error, pattern):
    with pytest.raises(error, match=pattern):
        processor(text=ONE_REGION, videos=[clip], boxes=[[{0: box}]])


# ------------------------------------------------------------------------ malformed numbers and strings
def test_polygon_with_huge_int_coordinate_raises_value_error():
    with pytest.raises((ValueError, TypeError)):
        decode_segmentation([[0, 0, 10**400, 0, 0, 5]], (10, 10))


_HUGE_POLYGON_SCRIPT = textwrap.dedent(
    """
    import importlib.util, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (1536 * 2**20, 1536 * 2**20))
    spec = importlib.util.spec_from_file_location("masks_under_test", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        result = module.decode_segmentation([[0.0, 0.0, float(sys.argv[2]), 0.0, 0.0, float(sys.argv[2])]], (10, 10))
        print("returned", result.shape, result.dtype)
    except (ValueError, TypeError) as error:
        print("refused", type(error).__name__, error)
    """
)


@pytest.mark.parametrize("coordinate", ["1e7", "1e15"])
def test_polygon_with_huge_coordinates_does_not_crash(coordinate):
    """In a subprocess (a crash must not take pytest down), under a 1.5 GB address-space limit."""
    result = subprocess.run(
        [sys.executable, "-c", _HUGE_POLYGON_SCRIPT, masks_videorefer.__file__, coordinate],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"exit status {result.returncode}: {result.stderr[-500:]}"
    assert result.stdout.startswith(("returned (10, 10) float32", "refused"))


def test_compressed_rle_rejects_non_ascii():
    with pytest.raises(ValueError, match="alphabet"):
        compressed_rle_counts("é")


# ------------------------------------------------------------------------------------------- fuzzing
FUZZ_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
# Numbers span sensible and absurd magnitudes: huge polygon coordinates must be refused, not reach pycocotools.
_numbers = st.one_of(
    st.integers(-10_000, 10_000),
    st.floats(-1e4, 1e4),
    st.integers(),
    st.floats(),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.5, -0.0, 1e15, -1e9, 10**400]),
)
_leaves = st.one_of(st.none(), st.booleans(), _numbers, st.text(max_size=12), st.sampled_from(["0", "3", "-2", "07", " 4"]))
_keys = st.one_of(st.text(max_size=6), st.sampled_from(["segmentation", "size", "counts", "0", "1", "5", "-1", "x"]))
json_like = st.recursive(
    _leaves,
    lambda children: st.one_of(st.lists(children, max_size=8), st.dictionaries(_keys, children, max_size=4)),
    max_leaves=24,
)
sizes = st.tuples(st.integers(1, 24), st.integers(1, 24))
COCO_ALPHABET = "".join(chr(c) for c in range(48, 48 + 64))


@st.composite
def rle_like(draw, size):
    """COCO-RLE-shaped dicts around a clip size: right or wrong sizes, random counts of every kind."""
    height, width = size
    rle_size = draw(
        st.one_of(
            st.just([height, width]),
            st.just([width, height]),
            st.lists(st.integers(-3, 30), max_size=3),
            json_like,
        )
    )
    counts = draw(
        st.one_of(
            st.binary(max_size=40),
            st.text(alphabet=COCO_ALPHABET, max_size=30),
            st.text(max_size=20),
            st.lists(st.integers(-2, height * width + 2), max_size=12),
            st.builds(lambda runs: runs + [max(height * width - sum(runs), 0)], st.lists(st.integers(0, 6), max_size=10)),
            json_like,
        )
    )
    rle = {"size": rle_size, "counts": counts}
    return draw(st.one_of(st.just(rle), st.just({"segmentation": rle})))


def _check_mask(result, size):
    assert isinstance(result, np.ndarray), type(result)
    assert result.dtype == np.float32, result.dtype
    assert result.shape == tuple(size), (result.shape, size)


@FUZZ_SETTINGS
@given(data=st.data(), size=sizes)
def test_fuzz_decode_segmentation(data, size):
    value = data.draw(st.one_of(json_like, rle_like(size)))
    try:
        result = decode_segmentation(value, size, "fuzz")
    except (ValueError, TypeError):
        return
    _check_mask(result, size)


@FUZZ_SETTINGS
@given(data=st.data(), size=sizes, is_image=st.booleans())
def test_fuzz_normalize_object_and_decode(data, size, is_image):
    obj = data.draw(
        st.one_of(
            json_like,
            st.dictionaries(st.one_of(_keys, st.integers(-3, 30)), st.one_of(json_like, rle_like(size)), max_size=4),
            rle_like(size),
        )
    )
    try:
        frames = normalize_object(obj, is_image, "fuzz")
    except (ValueError, TypeError):
        return
    assert isinstance(frames, dict) and frames
    if isinstance(obj, dict) and not ({"segmentation", "size", "counts"} & set(obj)):
        assert list(frames) == [int(str(key).strip()) for key in obj]  # the annotation's order
    assert all(isinstance(k, int) and k >= 0 for k in frames)
    if is_image:
        assert list(frames) == [0]
    for segmentation in frames.values():
        try:
            result = decode_segmentation(segmentation, size, "fuzz")
        except (ValueError, TypeError):
            continue
        _check_mask(result, size)


@FUZZ_SETTINGS
@given(counts=st.one_of(st.binary(max_size=64), st.text(max_size=40), st.text(alphabet=COCO_ALPHABET, max_size=40)))
def test_fuzz_compressed_rle_counts(counts):
    try:
        runs = compressed_rle_counts(counts, "fuzz")
    except (ValueError, TypeError):
        return
    assert isinstance(runs, list) and all(isinstance(r, int) for r in runs)


@FUZZ_SETTINGS
@given(counts=st.binary(max_size=64), size=sizes)
def test_fuzz_random_bytes_as_rle_counts(counts, size):
    for value in (counts, counts.decode("latin-1")):
        try:
            result = decode_segmentation({"size": list(size), "counts": value}, size, "fuzz")
        except (ValueError, TypeError):
            continue
        _check_mask(result, size)


@FUZZ_SETTINGS
@given(
    box=st.one_of(
        json_like,
        st.lists(st.one_of(st.integers(), st.floats(), st.booleans(), st.none()), min_size=4, max_size=4),
        st.lists(st.floats(-50, 50), min_size=4, max_size=4),
    ),
    size=sizes,
)
def test_fuzz_box_to_mask(box, size):
    try:
        result = box_to_mask(box, size, "fuzz")
    except (ValueError, TypeError):
        return
    assert isinstance(result, np.ndarray) and result.shape == tuple(size)
    assert set(np.unique(result).tolist()) <= {0, 1} and result.any()


@FUZZ_SETTINGS
@given(mask=hnp.arrays(np.bool_, st.tuples(st.integers(1, 20), st.integers(1, 20))))
def test_fuzz_rle_round_trip(mask):
    """pycocotools' compressed and uncompressed RLE of any mask decode back to it; the Python run-length decoder
    agrees with COCO's runs."""
    size = mask.shape
    encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    uncompressed = uncompressed_rle(mask)
    assert compressed_rle_counts(encoded["counts"]) == uncompressed["counts"]
    for rle in (encoded, {"size": encoded["size"], "counts": encoded["counts"].decode("ascii")}, uncompressed):
        decoded = decode_segmentation(rle, size)
        _check_mask(decoded, size)
        assert np.array_equal(decoded > 0, mask)


def test_masks_module_loads_standalone():
    """The crash test above loads masks_videorefer.py on its own (no package import): keep that possible."""
    spec = importlib.util.spec_from_file_location("masks_standalone", masks_videorefer.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.decode_segmentation(None, (2, 3)).shape == (2, 3)
    assert module.compressed_rle_counts("0") == [0]


@pytest.mark.parametrize(
    "polygon",
    [
        [2, 2, 6, 6, 10, 10],  # collinear
        [3, 3, 3, 3, 3, 3, 3, 3],  # one point repeated
        [25, 2, 30, 2, 30, 8],  # wholly outside the clip (to its right)
    ],
    ids=["collinear", "point", "outside"],
)
def test_polygon_that_covers_no_pixel_is_refused(polygon):
    with pytest.raises(ValueError, match=r"object 0, frame 3: the polygon\(s\) cover no pixel of the 20x16 clip"):
        masks_videorefer.decode_segmentation([polygon], (16, 20), "object 0, frame 3")


def test_thin_but_real_polygon_is_accepted():
    mask = masks_videorefer.decode_segmentation([[2, 2, 12, 2, 12, 3, 2, 3]], (16, 20), "object 0")
    assert mask.sum() > 0 and mask[2, 5] == 1
