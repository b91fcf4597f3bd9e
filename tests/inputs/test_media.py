"""Media for VideoReferProcessor: every way of giving a video or an image, uniform frame sampling, frames per call,
and the errors for unreadable media."""

import os
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from helpers import case_media_path, load_case_json
from PIL import Image

import transformers_videorefer  # noqa: F401  (registers the Auto classes)
from transformers_videorefer.inputs.media import open_clip, sample_frame_indices

MP4_CASE = "video_mp4_multi_frame_masks"
IMAGE_CASE = "image_two_objects"
VIDEO_PROMPT = "<video>\nWhat happens?"
IMAGE_PROMPT = "<image>\nWhat is this?"


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def mp4_path(golden_dir):
    return case_media_path(golden_dir, MP4_CASE, load_case_json(golden_dir, MP4_CASE))


@pytest.fixture(scope="module")
def image_path(golden_dir):
    return case_media_path(golden_dir, IMAGE_CASE, load_case_json(golden_dir, IMAGE_CASE))


@pytest.fixture(scope="module")
def decoded_frames(mp4_path):
    """All frames of the golden mp4 as decord decodes them: (T, H, W, 3) uint8."""
    import decord

    reader = decord.VideoReader(str(mp4_path), ctx=decord.cpu(0), num_threads=1)
    frames = reader.get_batch(list(range(len(reader)))).asnumpy()
    assert frames.shape == (12, 90, 120, 3) and frames.dtype == np.uint8
    return frames


@pytest.fixture(scope="module")
def frames_folder(decoded_frames, tmp_path_factory):
    folder = tmp_path_factory.mktemp("frames")
    for index, frame in enumerate(decoded_frames):
        Image.fromarray(frame).save(folder / f"{index:05d}.png")
    return folder


@pytest.fixture(scope="module")
def reference_video_pixels(processor, mp4_path):
    return processor(text=VIDEO_PROMPT, videos=[mp4_path])["pixel_values_videos"]


def _video_pixels(processor, videos, **kwargs):
    return processor(text=VIDEO_PROMPT, videos=videos, **kwargs)["pixel_values_videos"]


# ------------------------------------------------------------------------------------------ video inputs
@pytest.mark.parametrize(
    "form",
    [
        "mp4_str",
        "pil_list",
        "numpy_array",
        "numpy_array_unwrapped",
        "numpy_frame_list",
        "torch_tensor",
        "torch_frame_list",
        "frames_folder",
        "frames_folder_str",
        "frame_file_paths",
        "frame_file_strs",
    ],
)
def test_video_forms_give_identical_pixels(processor, form, mp4_path, decoded_frames, frames_folder, reference_video_pixels):
    files = sorted(frames_folder.iterdir())
    videos = {
        "mp4_str": lambda: [str(mp4_path)],
        "pil_list": lambda: [[Image.fromarray(frame) for frame in decoded_frames]],
        "numpy_array": lambda: [decoded_frames],
        "numpy_array_unwrapped": lambda: decoded_frames,
        "numpy_frame_list": lambda: [list(decoded_frames)],
        "torch_tensor": lambda: [torch.from_numpy(decoded_frames.copy())],
        "torch_frame_list": lambda: [[torch.from_numpy(frame.copy()) for frame in decoded_frames]],
        "frames_folder": lambda: [frames_folder],
        "frames_folder_str": lambda: [str(frames_folder)],
        "frame_file_paths": lambda: [files],
        "frame_file_strs": lambda: [[str(f) for f in files]],
    }[form]()
    pixels = _video_pixels(processor, videos)
    assert pixels.shape == reference_video_pixels.shape == (1, 4, 3, 112, 112)
    assert torch.equal(pixels, reference_video_pixels)


def test_bare_frame_list_is_one_video(processor, decoded_frames, reference_video_pixels):
    """A list of PIL frames passed directly as `videos` is one video, not one video per frame."""
    pixels = _video_pixels(processor, [Image.fromarray(frame) for frame in decoded_frames])
    assert torch.equal(pixels, reference_video_pixels)


def test_rgba_and_grayscale_frames(processor, decoded_frames, reference_video_pixels):
    rgba = np.concatenate([decoded_frames, np.full(decoded_frames.shape[:3] + (1,), 255, np.uint8)], axis=-1)
    assert torch.equal(_video_pixels(processor, [rgba]), reference_video_pixels)
    gray = decoded_frames[..., 0]
    gray_rgb = np.repeat(gray[..., None], 3, axis=-1)
    assert torch.equal(_video_pixels(processor, [list(gray)]), _video_pixels(processor, [gray_rgb]))


def test_sampled_frames_are_the_uniformly_sampled_ones(processor, decoded_frames, reference_video_pixels):
    indices = sample_frame_indices(len(decoded_frames), processor.num_frames)
    assert indices == [1, 4, 7, 10]
    as_images = processor(text=[IMAGE_PROMPT] * 4, images=[decoded_frames[i] for i in indices])["pixel_values"]
    assert torch.equal(as_images, reference_video_pixels[0])


def _gif_frames():
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255), (0, 0, 0)]
    frames = []
    for index, colour in enumerate(colours):
        frame = np.zeros((30, 40, 3), dtype=np.uint8)
        frame[...] = colour
        frame[5:15, 2 + 4 * index : 10 + 4 * index] = (255, 255, 255)  # a moving white block
        frames.append(frame)
    return frames


def test_animated_gif(processor, tmp_path):
    frames = _gif_frames()
    path = tmp_path / "clip.gif"
    images = [Image.fromarray(frame) for frame in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=80, loop=0)

    clip = open_clip(path)
    assert (clip.num_frames, clip.height, clip.width) == (7, 30, 40)
    for index, frame in enumerate(clip.get_frames(range(7))):
        assert np.array_equal(frame, frames[index]), index

    pixels = _video_pixels(processor, [str(path)])
    assert pixels.shape == (1, 4, 3, 112, 112)
    assert torch.equal(pixels, _video_pixels(processor, [images]))

    # masks address the gif's own frames
    mask = np.zeros((30, 40), dtype=bool)
    mask[5:15, 2 + 4 * 6 : 10 + 4 * 6] = True
    inputs = processor(text="<video>\n[<region>]?", videos=[path], masks=[[{6: mask}]])
    assert torch.equal(inputs["region_pixel_values"], processor(text=IMAGE_PROMPT, images=[frames[6]])["pixel_values"])


# ---------------------------------------------------------------------------------------- frame sampling
def _spec_indices(n: int, k: int) -> list[int]:
    """docs/inputs.md: frame i is round((seg*i + seg*(i+1))/2 + 1e-6) with seg = (n-1)/num_frames."""
    seg = (n - 1) / k
    return [int(round((seg * i + seg * (i + 1)) / 2 + 1e-6)) for i in range(k)]


def test_sample_frame_indices_example():
    assert sample_frame_indices(12, 4) == [1, 4, 7, 10]
    assert sample_frame_indices(1, 3) == [0, 0, 0]


@pytest.mark.parametrize("n", list(range(1, 41)) + [97, 100, 250, 1001, 4096])
def test_sample_frame_indices_match_spec(n):
    for k in list(range(1, 33)) + [48, 64, 128]:
        indices = sample_frame_indices(n, k)
        assert indices == _spec_indices(n, k), (n, k)
        assert all(isinstance(i, int) for i in indices)
        assert len(indices) == k
        assert all(0 <= i < n for i in indices)
        assert indices == sorted(indices)
        if n - 1 >= k:  # segments of at least one frame: no frame twice
            assert len(set(indices)) == k, (n, k)


@pytest.mark.parametrize("n, k", [(0, 4), (-1, 4), (5, 0), (5, -2)])
def test_sample_frame_indices_rejects_bad_counts(n, k):
    with pytest.raises(ValueError, match=r"frames|num_frames"):
        sample_frame_indices(n, k)


@pytest.mark.parametrize("num_frames", [2, 4, 6, 8])
def test_num_frames_per_call(processor, mp4_path, decoded_frames, num_frames):
    inputs = processor(text=VIDEO_PROMPT, videos=[mp4_path], num_frames=num_frames)
    assert inputs["pixel_values_videos"].shape == (1, num_frames, 3, 112, 112)
    num_placeholders = int((inputs["input_ids"] == processor.video_token_id).sum())
    assert num_placeholders == processor.num_video_tokens(num_frames) == (num_frames // 2) * 4 * 4
    indices = sample_frame_indices(12, num_frames)
    expected = processor(text=[IMAGE_PROMPT] * num_frames, images=[decoded_frames[i] for i in indices])["pixel_values"]
    assert torch.equal(inputs["pixel_values_videos"][0], expected)


def test_num_frames_per_call_leaves_default(processor, mp4_path):
    processor(text=VIDEO_PROMPT, videos=[mp4_path], num_frames=8)
    assert processor.num_frames == 4
    assert processor(text=VIDEO_PROMPT, videos=[mp4_path])["pixel_values_videos"].shape[1] == 4


def test_short_clip_repeats_frames(processor, decoded_frames):
    inputs = processor(text=VIDEO_PROMPT, videos=[decoded_frames[:2]], num_frames=6)
    pixels = inputs["pixel_values_videos"][0]
    assert pixels.shape[0] == 6
    for row, index in enumerate(sample_frame_indices(2, 6)):
        assert torch.equal(pixels[row], pixels[[0, -1][index]])


# ------------------------------------------------------------------------------------------ image inputs
def test_image_forms_give_identical_pixels(processor, image_path):
    reference = processor(text=IMAGE_PROMPT, images=[image_path])
    assert reference["pixel_values"].shape == (1, 3, 112, 112)
    num_image_tokens = int((reference["input_ids"] == processor.image_token_id).sum())
    assert num_image_tokens == processor.num_video_tokens(processor.num_frames)
    with Image.open(image_path) as image:
        pil = image.copy()
    array = np.asarray(pil.convert("RGB"))
    forms = {
        "str": [str(image_path)],
        "path_unwrapped": image_path,
        "pil": [pil],
        "pil_unwrapped": pil,
        "numpy": [array],
        "numpy_rgba": [np.concatenate([array, np.full(array.shape[:2] + (1,), 255, np.uint8)], -1)],
        "torch": [torch.from_numpy(array.copy())],
    }
    for form, images in forms.items():
        inputs = processor(text=IMAGE_PROMPT, images=images)
        assert torch.equal(inputs["pixel_values"], reference["pixel_values"]), form
        assert torch.equal(inputs["input_ids"], reference["input_ids"]), form


# -------------------------------------------------------------------------------------------------- errors
def test_error_corrupt_video(processor, tmp_path):
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ValueError, match=r"Cannot decode the video file .*corrupt\.mp4.*unreadable or corrupt"):
        processor(text=VIDEO_PROMPT, videos=[path])


def test_error_truncated_video(processor, mp4_path, tmp_path):
    path = tmp_path / "truncated.mp4"
    path.write_bytes(mp4_path.read_bytes()[:2000])
    with pytest.raises(ValueError, match=r"unreadable or corrupt"):
        processor(text=VIDEO_PROMPT, videos=[path])


def test_error_empty_video_file(processor, tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"The video file .*empty\.mp4.* is empty"):
        processor(text=VIDEO_PROMPT, videos=[path])


def test_error_folder_without_frames(processor, tmp_path):
    (tmp_path / "notes.txt").write_text("not a frame")
    (tmp_path / ".hidden.png").write_bytes(b"")
    with pytest.raises(ValueError, match=r"frame folder .* holds no frame images"):
        processor(text=VIDEO_PROMPT, videos=[tmp_path])


def test_error_missing_video_file(processor, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"No such video file or frame folder: .*missing\.mp4"):
        processor(text=VIDEO_PROMPT, videos=[tmp_path / "missing.mp4"])


def test_error_missing_image_file(processor, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"No such image file: .*missing\.png"):
        processor(text=IMAGE_PROMPT, images=[tmp_path / "missing.png"])


def test_error_missing_frame_file(processor, frames_folder, tmp_path):
    files = sorted(frames_folder.iterdir())[:3] + [tmp_path / "gone.png"]
    with pytest.raises(FileNotFoundError, match=r"No such frame file.*gone\.png"):
        processor(text=VIDEO_PROMPT, videos=[files])


def test_error_corrupt_image_and_gif_and_frame(processor, frames_folder, tmp_path):
    bad_image = tmp_path / "bad.png"
    bad_image.write_bytes(b"definitely not a png")
    with pytest.raises(ValueError, match=r"Cannot read the image .*bad\.png"):
        processor(text=IMAGE_PROMPT, images=[bad_image])
    bad_gif = tmp_path / "bad.gif"
    bad_gif.write_bytes(b"GIF89a garbage")
    with pytest.raises(ValueError, match=r"Cannot read the gif .*bad\.gif"):
        processor(text=VIDEO_PROMPT, videos=[bad_gif])
    folder = tmp_path / "frames"
    folder.mkdir()
    for index, source in enumerate(sorted(frames_folder.iterdir())):
        (folder / source.name).write_bytes(source.read_bytes() if index != 4 else b"broken")
    with pytest.raises(ValueError, match=r"Cannot read the frame image .*00004\.png"):
        processor(text=VIDEO_PROMPT, videos=[folder])


def test_error_frames_of_different_sizes(processor, decoded_frames):
    frames = [Image.fromarray(frame) for frame in decoded_frames]
    frames[4] = frames[4].resize((60, 45))
    with pytest.raises(ValueError, match=r"Frame 4 of the frame list is 60x45, but the clip's first frame is 120x90"):
        processor(text=VIDEO_PROMPT, videos=[frames])


@pytest.mark.parametrize(
    "video, error, pattern",
    [
        # a 3-D array in a list is one frame of a one-frame video
        (np.zeros((4, 20, 24), dtype=np.uint8), ValueError, r"expected an \(height, width, 3\) RGB frame, got an array of shape \(4, 20, 24\)"),
        (np.zeros((4, 20, 24, 3, 1), dtype=np.uint8), ValueError, r"video array must be \(frames, height, width, 3\)"),
        (np.zeros((4, 20, 24, 2), dtype=np.uint8), ValueError, r"video array must be \(frames, height, width, 3\)"),
        (np.zeros((0, 20, 24, 3), dtype=np.uint8), ValueError, r"holds no frames"),
        (np.full((4, 20, 24, 3), 0.5, dtype=np.float32), ValueError, r"float frames with values in \[0, 1\] are ambiguous"),
        ([[]], ValueError, r"holds no frames"),
        (12345, TypeError, r"A video must be a path .* got int"),
        ([["a frame?"]], FileNotFoundError, r"No such frame file"),
        ([[{"not": "a frame"}]], TypeError, r"expected a PIL image, a numpy array or a torch tensor, got dict"),
    ],
)
def test_error_bad_video_values(processor, video, error, pattern):
    with pytest.raises(error, match=pattern):
        processor(text=VIDEO_PROMPT, videos=video if isinstance(video, list) else [video])


@pytest.mark.parametrize(
    "image, error, pattern",
    [
        (np.zeros((20, 24, 5), dtype=np.uint8), ValueError, r"expected an \(height, width, 3\) RGB frame"),
        (np.zeros((2, 20, 24, 3), dtype=np.uint8), ValueError, r"expected an \(height, width, 3\) RGB frame"),
        (3.5, TypeError, r"expected a PIL image, a numpy array or a torch tensor, got float"),
    ],
)
def test_error_bad_image_values(processor, image, error, pattern):
    with pytest.raises(error, match=pattern):
        processor(text=IMAGE_PROMPT, images=[image])


# ------------------------------------------------------------------------------ unusual files (issue: fail clearly)
def _write_png16(path, values):
    from PIL import Image

    Image.fromarray(np.asarray(values, dtype=np.uint16)).save(path)


def test_sixteen_bit_grayscale_frames_are_scaled_not_clipped(tmp_path):
    from transformers_videorefer.inputs.media import open_clip

    values = np.array([[0, 257, 32896], [40000, 65535, 1000]], dtype=np.uint16)
    for index in range(3):
        _write_png16(tmp_path / f"{index:05d}.png", values)
    frames = open_clip(str(tmp_path)).get_frames([0, 2])
    expected = np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8)
    for frame in frames:
        assert frame.dtype == np.uint8 and frame.shape == (2, 3, 3)
        for channel in range(3):
            np.testing.assert_array_equal(frame[..., channel], expected)


def test_sixteen_bit_image_is_scaled(tmp_path):
    from transformers_videorefer.inputs.media import load_image

    _write_png16(tmp_path / "deep.png", [[65535, 0], [25700, 257]])
    np.testing.assert_array_equal(load_image(str(tmp_path / "deep.png"))[..., 1], [[255, 0], [100, 1]])


@pytest.mark.timeout(30)
def test_fifo_in_a_frame_folder_is_refused_without_hanging(tmp_path):
    from PIL import Image

    from transformers_videorefer.inputs.media import open_clip

    Image.new("RGB", (4, 4)).save(tmp_path / "00000.png")
    os.mkfifo(tmp_path / "00001.png")
    clip = open_clip(str(tmp_path))
    with pytest.raises(ValueError, match=r"00001.png' is not a regular file \(a FIFO, socket or device\?\)"):
        clip.get_frames([1])


@pytest.mark.timeout(30)
def test_fifo_named_gif_or_video_is_refused_without_hanging(tmp_path):
    from transformers_videorefer.inputs.media import load_image, open_clip

    for name in ("clip.gif", "clip.mp4", "photo.png"):
        os.mkfifo(tmp_path / name)
    with pytest.raises(ValueError, match="The gif .*clip.gif' is not a regular file"):
        open_clip(str(tmp_path / "clip.gif"))
    with pytest.raises(ValueError, match="The video file .*clip.mp4' is not a regular file"):
        open_clip(str(tmp_path / "clip.mp4"))
    with pytest.raises(ValueError, match="The image .*photo.png' is not a regular file"):
        load_image(str(tmp_path / "photo.png"))


def test_decompression_bomb_is_a_clear_error(tmp_path, monkeypatch):
    from PIL import Image

    from transformers_videorefer.inputs.media import load_image, open_clip

    Image.new("RGB", (64, 64)).save(tmp_path / "big.png")
    (tmp_path / "frames").mkdir()
    Image.new("RGB", (64, 64)).save(tmp_path / "frames" / "00000.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # PIL refuses images over twice this many pixels
    with pytest.raises(ValueError, match=r"big.png' is larger than PIL's decompression-bomb limit \(100 pixels\)"):
        load_image(str(tmp_path / "big.png"))
    with pytest.raises(ValueError, match="decompression-bomb limit"):
        open_clip(str(tmp_path / "frames"))


def test_list_of_frame_files_is_read_lazily_and_in_order(tmp_path):
    from PIL import Image

    from transformers_videorefer.inputs.media import open_clip

    paths = []
    for value in (30, 10, 20):
        path = tmp_path / f"v{value}.png"
        Image.new("RGB", (3, 2), (value, value, value)).save(path)
        paths.append(str(path))
    clip = open_clip(paths)
    assert (clip.num_frames, clip.height, clip.width) == (3, 2, 3)
    assert [int(frame[0, 0, 0]) for frame in clip.get_frames([2, 0, 1])] == [20, 30, 10]


def _write_frame_folder(folder, count: int, size: tuple[int, int] = (40, 24)):
    """`count` JPEG frames of random texture, named 00000.jpg ..."""
    folder.mkdir()
    rng = np.random.default_rng(count)
    for index in range(count):
        pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{index:05d}.jpg", quality=90)
    return folder


def test_a_frame_folder_decodes_only_the_frames_asked_for(tmp_path, monkeypatch):
    from transformers_videorefer.inputs import media

    folder = _write_frame_folder(tmp_path / "frames", 6)
    decoded = []
    read = media.read_image_file
    monkeypatch.setattr(media, "read_image_file", lambda path, what="image": decoded.append(os.path.basename(path)) or read(path, what))
    clip = open_clip(str(folder))
    assert (clip.num_frames, clip.height, clip.width) == (6, 24, 40) and decoded == []  # the size from the header
    frames = clip.get_frames([4, 1, 4])
    assert sorted(decoded) == ["00001.jpg", "00004.jpg"] and [f.shape for f in frames] == [(24, 40, 3)] * 3


def test_frames_read_on_several_threads_equal_those_read_on_one(tmp_path, monkeypatch):
    from transformers_videorefer.inputs.media import FRAME_THREADS_ENV

    folder = _write_frame_folder(tmp_path / "frames", 7)
    monkeypatch.setenv(FRAME_THREADS_ENV, "1")
    serial = open_clip(str(folder)).get_frames(range(7))
    monkeypatch.setenv(FRAME_THREADS_ENV, "3")
    threaded = open_clip(str(folder)).get_frames(range(7))
    assert all(np.array_equal(a, b) for a, b in zip(serial, threaded))


def test_frame_threads_default_override_and_workers(monkeypatch):
    import torch.utils.data

    from transformers_videorefer.inputs import media
    from transformers_videorefer.inputs.media import (
        FRAME_THREADS_ENV,
        MAX_FRAME_THREADS,
        frame_threads,
    )

    monkeypatch.delenv(FRAME_THREADS_ENV, raising=False)
    monkeypatch.setattr(media, "usable_cores", lambda: 64)
    assert frame_threads(100) == MAX_FRAME_THREADS and frame_threads(3) == 3 and frame_threads(0) == 1
    # inside a DataLoader worker: the cores shared out among the workers
    monkeypatch.setattr(media, "usable_cores", lambda: 16)
    monkeypatch.setattr(torch.utils.data, "get_worker_info", lambda: SimpleNamespace(num_workers=4))
    assert frame_threads(100) == 4 and frame_threads(2) == 2
    monkeypatch.setattr(torch.utils.data, "get_worker_info", lambda: SimpleNamespace(num_workers=32))
    assert frame_threads(100) == 1
    monkeypatch.setenv(FRAME_THREADS_ENV, "5")
    assert frame_threads(100) == 5
    for bad in ("0", "many"):
        monkeypatch.setenv(FRAME_THREADS_ENV, bad)
        with pytest.raises(ValueError, match=FRAME_THREADS_ENV):
            frame_threads(4)


def test_map_frames_keeps_the_order_and_raises_the_first_error(monkeypatch):
    from transformers_videorefer.inputs.media import FRAME_THREADS_ENV, map_frames

    monkeypatch.setenv(FRAME_THREADS_ENV, "4")
    assert map_frames(lambda x: x * x, list(range(20))) == [x * x for x in range(20)]

    def fail_on_odd(x):
        if x % 2:
            raise ValueError(f"frame {x} is broken")
        return x

    with pytest.raises(ValueError, match="frame 1 is broken"):
        map_frames(fail_on_odd, [0, 1, 2, 3])


def test_video_frames_decoded_on_several_threads_equal_one_threads(mp4_path, monkeypatch):
    from transformers_videorefer.inputs.media import FRAME_THREADS_ENV

    monkeypatch.setenv(FRAME_THREADS_ENV, "1")
    clip = open_clip(mp4_path)
    serial = clip.get_frames(range(clip.num_frames))
    monkeypatch.setenv(FRAME_THREADS_ENV, "4")
    threaded = open_clip(mp4_path).get_frames(range(clip.num_frames))
    assert len(serial) == clip.num_frames and all(np.array_equal(a, b) for a, b in zip(serial, threaded))


# ----------------------------------------------------------------------------- for_each_frame: read and process at once
def _collect(clip, indices):
    """`{index: frame}` of `clip.for_each_frame(indices, ...)`, and how many times each index was handed over."""
    seen, calls = {}, []

    def keep(index, frame):
        calls.append(index)
        seen[index] = frame.copy()

    clip.for_each_frame(indices, keep)
    return seen, sorted(calls)


@pytest.mark.parametrize("threads", ["1", "3"])
def test_for_each_frame_hands_over_get_frames_frames_once_per_index(mp4_path, frames_folder, decoded_frames, threads, monkeypatch):
    from transformers_videorefer.inputs.media import FRAME_THREADS_ENV

    monkeypatch.setenv(FRAME_THREADS_ENV, threads)
    indices = [9, 0, 3, 3, 11, 0]
    for media in (mp4_path, str(frames_folder), decoded_frames, list(decoded_frames)):
        seen, calls = _collect(open_clip(media), indices)
        assert calls == [0, 3, 9, 11], type(media)
        expected = open_clip(media).get_frames(sorted(seen))
        assert all(np.array_equal(seen[i], frame) for i, frame in zip(sorted(seen), expected)), type(media)
        assert all(np.array_equal(seen[i], decoded_frames[i]) for i in seen), type(media)


def test_for_each_frame_refuses_indices_outside_the_clip_before_reading(mp4_path):
    clip = open_clip(mp4_path)
    calls = []
    with pytest.raises(ValueError, match="Frame index 12 is outside"):
        clip.for_each_frame([0, 12], lambda index, frame: calls.append(index))
    assert calls == []


@pytest.mark.parametrize("threads", ["1", "4"])
def test_for_each_frame_raises_the_first_failure_in_frame_order(mp4_path, frames_folder, threads, monkeypatch):
    from transformers_videorefer.inputs.media import FRAME_THREADS_ENV

    monkeypatch.setenv(FRAME_THREADS_ENV, threads)

    def fail_after_four(index, frame):
        if index >= 4:
            raise RuntimeError(f"cannot process frame {index}")

    for media in (mp4_path, str(frames_folder)):
        with pytest.raises(RuntimeError, match="cannot process frame 4"):
            open_clip(media).for_each_frame(range(12), fail_after_four)


def test_for_each_frame_reports_a_frame_of_another_size(tmp_path):
    folder = _write_frame_folder(tmp_path / "frames", 3)
    Image.fromarray(np.zeros((10, 12, 3), dtype=np.uint8)).save(folder / "00002.jpg")
    with pytest.raises(ValueError, match="Frame 2 of the frame folder .* is 12x10, but the clip's first frame is 40x24"):
        open_clip(str(folder)).for_each_frame([0, 1, 2], lambda index, frame: None)


def test_a_video_files_size_comes_without_decoding_a_frame(mp4_path, monkeypatch):
    import decord

    decoded = []
    get_batch = decord.VideoReader.get_batch
    monkeypatch.setattr(decord.VideoReader, "get_batch", lambda self, indices: decoded.extend(indices) or get_batch(self, indices))
    monkeypatch.setattr(decord.VideoReader, "__getitem__", lambda self, index: pytest.fail("frame decoded for the size"))
    clip = open_clip(mp4_path)
    assert (clip.num_frames, clip.height, clip.width) == (12, 90, 120) and decoded == []
    assert clip.get_frames([5])[0].shape == (90, 120, 3)


def test_a_decord_that_refuses_empty_batches_still_gives_the_size(mp4_path, monkeypatch):
    import decord

    get_batch = decord.VideoReader.get_batch

    def refuse_empty(self, indices):
        if len(indices) == 0:
            raise decord.DECORDError("empty batch")
        return get_batch(self, indices)

    monkeypatch.setattr(decord.VideoReader, "get_batch", refuse_empty)
    clip = open_clip(mp4_path)
    assert (clip.height, clip.width) == (90, 120)
    assert clip.get_frames([0])[0].shape == (90, 120, 3)


def test_a_video_that_breaks_mid_stream_names_the_frame_where_decoding_stopped(processor, mp4_path, tmp_path):
    data = bytearray(open(mp4_path, "rb").read())
    start = len(data) // 2
    data[start : start + 2000] = np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes()
    garbled = tmp_path / "garbled.mp4"
    garbled.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"Cannot decode frame \d+ of the video '.*garbled\.mp4'"):
        processor(text=VIDEO_PROMPT, videos=[str(garbled)])
