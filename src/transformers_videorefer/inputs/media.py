# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Reading clips and images for VideoRefer: video files (decord), frame folders, gifs, frame lists and arrays.

A *clip* is anything with frames: frames are addressed by their index in the original clip, so that masks given
for frame 12 are read from frame 12 whatever frames are sampled for the model.
"""

import os
import stat
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

FRAME_FILE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
GIF_EXTENSIONS = (".gif",)
# PIL modes of 16-bit (and 32-bit integer / float) single-channel images: scaled to 8 bits, not clipped
_WIDE_GRAYSCALE_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")
# Threads that decode / resize the frames of one clip (PIL releases the GIL in both); see `frame_threads`.
FRAME_THREADS_ENV = "VIDEOREFER_FRAME_THREADS"
MAX_FRAME_THREADS = 8

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


def frame_threads(num_items: int) -> int:
    """Threads for the per-frame work of one clip: `$VIDEOREFER_FRAME_THREADS` when set, else the cores this process
    may use (at most 8), shared out among the workers inside a DataLoader worker process (16 cores, 4 workers: 4
    threads each, so that a short run's first batches, one per worker, do not wait on a single core); never more
    than `num_items`."""
    configured = os.environ.get(FRAME_THREADS_ENV)
    if configured is not None:
        try:
            threads = int(configured)
        except ValueError as error:
            raise ValueError(f"${FRAME_THREADS_ENV} must be a whole number of threads, got {configured!r}.") from error
        if threads < 1:
            raise ValueError(f"${FRAME_THREADS_ENV} must be at least 1, got {threads}.")
    else:
        data = sys.modules.get("torch.utils.data")
        worker = data.get_worker_info() if data is not None else None
        cores = usable_cores()
        threads = min(MAX_FRAME_THREADS, cores if worker is None else max(1, cores // max(1, worker.num_workers)))
    return max(1, min(threads, num_items))


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity where the platform tells it, else `os.cpu_count()`)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def map_frames(function: Callable[[_Item], _Result], items: Sequence[_Item]) -> list[_Result]:
    """`[function(item) for item in items]`, in order, spread over `frame_threads(len(items))` threads. The first
    exception raised by `function` is raised here, as the loop would."""
    threads = frame_threads(len(items))
    if threads == 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="videorefer-frames") as pool:
        return list(pool.map(function, items))


def check_regular_file(path: str, what: str) -> None:
    """Refuse what is not a regular file (a FIFO or a device would block the reader forever)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError as error:
        raise FileNotFoundError(f"No such {what}: {path!r}") from error
    if not stat.S_ISREG(mode):
        raise ValueError(f"The {what} {path!r} is not a regular file (a FIFO, socket or device?); give an image file.")


def pil_to_rgb_array(image: Any) -> np.ndarray:
    """An (H, W, 3) uint8 array of a PIL image; 16-bit grayscale is scaled to 8 bits (65535 -> 255), not clipped."""
    if image.mode in _WIDE_GRAYSCALE_MODES:
        values = np.asarray(image, dtype=np.float64)
        if image.mode != "F" and values.size and values.max() > 255:
            values = values / 257.0  # 16-bit range -> 8-bit range
        gray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=-1))
    if image.mode == "RGB":  # already RGB (JPEG frames): no converted copy
        image.load()
        return np.asarray(image)
    return np.asarray(image.convert("RGB"))


def _open_image_file(path: str, what: str, read: Callable[[Any], _Result]) -> _Result:
    """`read(image)` of the opened image file, with one clear ValueError for every way it cannot be read."""
    from PIL import Image, UnidentifiedImageError

    check_regular_file(path, what)
    try:
        with Image.open(path) as image:
            return read(image)
    except Image.DecompressionBombError as error:
        raise ValueError(
            f"The {what} {path!r} is larger than PIL's decompression-bomb limit ({Image.MAX_IMAGE_PIXELS} pixels); "
            "resize it, or raise PIL.Image.MAX_IMAGE_PIXELS if you trust the file."
        ) from error
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"Cannot read the {what} {path!r}: {error}") from error


def read_image_size(path: str, what: str = "image") -> tuple[int, int]:
    """`(height, width)` of an image file from its header (no pixels decoded); errors as `read_image_file`."""
    width, height = _open_image_file(path, what, lambda image: image.size)
    return int(height), int(width)


def read_image_file(path: str, what: str = "image") -> np.ndarray:
    """An image file as an (H, W, 3) uint8 array, with one clear ValueError for every way it cannot be read."""
    return _open_image_file(path, what, pil_to_rgb_array)


def sample_frame_indices(num_clip_frames: int, num_frames: int) -> list[int]:
    """Uniformly sample `num_frames` frame indices of a clip of `num_clip_frames` frames, as the original.

    With seg = (n - 1) / num_frames, frame i is round((seg * i + seg * (i + 1)) / 2 + 1e-6). Short clips repeat
    frames.

    >>> sample_frame_indices(12, 4)
    [1, 4, 7, 10]
    """
    if num_clip_frames < 1:
        raise ValueError(f"Cannot sample frames from a clip with {num_clip_frames} frames.")
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}.")
    segment = float(num_clip_frames - 1) / num_frames
    centers = np.array([(segment * i + segment * (i + 1)) / 2 for i in range(num_frames)])
    return np.round(centers + 1e-6).astype(int).tolist()


def _to_rgb_array(frame: Any, where: str) -> np.ndarray:
    """An (H, W, 3) uint8 array from a PIL image, an (H, W, 3|4) / (H, W) array, or a tensor of those."""
    from PIL import Image

    if isinstance(frame, Image.Image):
        return pil_to_rgb_array(frame)
    if hasattr(frame, "detach") and hasattr(frame, "cpu"):
        frame = frame.detach().cpu().numpy()
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"{where}: expected a PIL image, a numpy array or a torch tensor, got {type(frame).__name__}.")
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, axis=-1)
    if frame.ndim != 3 or frame.shape[-1] not in (3, 4):
        raise ValueError(f"{where}: expected an (height, width, 3) RGB frame, got an array of shape {frame.shape}.")
    if frame.shape[-1] == 4:
        frame = frame[..., :3]
    if frame.dtype != np.uint8:
        if np.issubdtype(frame.dtype, np.floating) and frame.size and float(frame.max()) <= 1.0:
            raise ValueError(
                f"{where}: float frames with values in [0, 1] are ambiguous; pass uint8 RGB values in [0, 255]."
            )
        frame = np.clip(frame, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(frame)


class Clip:
    """A clip whose frames are read on demand by their index in the original clip.

    Attributes:
        num_frames: number of frames of the original clip.
        height, width: the clip's frame size.
        source: a description of where the frames come from, for error messages.
        reads_depend_on_history: whether a frame read can depend on what was read before it (see `VideoFileClip`);
            readers of such a clip keep the original's order of reads instead of merging them.
    """

    reads_depend_on_history = False

    def __init__(self, num_frames: int, height: int, width: int, source: str):
        if num_frames < 1:
            raise ValueError(f"{source} holds no frames.")
        self.num_frames = num_frames
        self.height = height
        self.width = width
        self.source = source

    def _read(self, indices: list[int]) -> list[np.ndarray]:
        raise NotImplementedError

    def _distinct_indices(self, indices: Sequence[int]) -> list[int]:
        """The distinct frame indices of `indices`, in increasing order; an index outside the clip is refused."""
        indices = [int(i) for i in indices]
        for index in indices:
            if not 0 <= index < self.num_frames:
                raise ValueError(
                    f"Frame index {index} is outside {self.source}, which has {self.num_frames} frames "
                    f"(valid: 0 to {self.num_frames - 1})."
                )
        return sorted(set(indices))

    def _checked(self, index: int, frame: np.ndarray) -> np.ndarray:
        """`frame` (frame `index`), refused when its size is not the clip's."""
        if frame.shape[:2] != (self.height, self.width):
            raise ValueError(
                f"Frame {index} of {self.source} is {frame.shape[1]}x{frame.shape[0]}, but the clip's first frame "
                f"is {self.width}x{self.height}: all frames of a clip must have one size."
            )
        return frame

    def get_frames(self, indices: Sequence[int]) -> list[np.ndarray]:
        """Frames at `indices` (of the original clip) as (height, width, 3) uint8 arrays."""
        indices = [int(i) for i in indices]
        unique = self._distinct_indices(indices)
        frames = {index: self._checked(index, frame) for index, frame in zip(unique, self._read(unique))}
        return [frames[i] for i in indices]

    def for_each_frame(self, indices: Sequence[int], function: Callable[[int, np.ndarray], Any]) -> None:
        """Call `function(index, frame)` once for each distinct index of `indices` with that (height, width, 3) uint8
        frame, on `frame_threads` threads, each frame handed over as soon as it is read (a frame folder reads and
        processes each frame on one thread; a video file is decoded in order while earlier frames are processed).
        Frames are as `get_frames` gives them; the first exception (of reading or of `function`) is raised here.
        """
        unique = self._distinct_indices(indices)
        map_frames(lambda index: function(index, self._checked(index, self._read([index])[0])), unique)


class ArrayClip(Clip):
    """Frames already in memory: a list of PIL images / arrays, or a (T, H, W, 3) array or tensor."""

    def __init__(self, frames: Sequence[Any], source: str = "the frame list"):
        if len(frames) == 0:
            raise ValueError(f"{source} holds no frames.")
        first = _to_rgb_array(frames[0], f"frame 0 of {source}")
        super().__init__(len(frames), first.shape[0], first.shape[1], source)
        self._frames = frames

    def _read(self, indices: list[int]) -> list[np.ndarray]:
        return [_to_rgb_array(self._frames[i], f"frame {i} of {self.source}") for i in indices]


class ImageFilesClip(Clip):
    """Frames stored as image files, in the order given (read on demand: only the frames asked for are decoded,
    on `frame_threads` threads; the clip's size comes from the first file's header)."""

    def __init__(self, paths: Sequence[str], source: str):
        if not paths:
            raise ValueError(f"{source} holds no frames.")
        self._paths = list(paths)
        height, width = read_image_size(self._paths[0], "frame image")
        super().__init__(len(self._paths), height, width, source)

    def _open(self, index: int) -> np.ndarray:
        return read_image_file(self._paths[index], "frame image")

    def _read(self, indices: list[int]) -> list[np.ndarray]:
        return map_frames(self._open, indices)


class FolderClip(ImageFilesClip):
    """A folder of frame images, ordered by file name."""

    def __init__(self, folder: str):
        files = sorted(
            name
            for name in os.listdir(folder)
            if not name.startswith(".") and name.lower().endswith(FRAME_FILE_EXTENSIONS)
        )
        if not files:
            raise ValueError(
                f"The frame folder {folder!r} holds no frame images (expected files ending in "
                f"{', '.join(FRAME_FILE_EXTENSIONS)})."
            )
        super().__init__([os.path.join(folder, name) for name in files], f"the frame folder {folder!r}")


class GifClip(Clip):
    """An animated gif (each frame converted to RGB)."""

    def __init__(self, path: str):
        from PIL import Image, ImageSequence, UnidentifiedImageError

        check_regular_file(path, "gif")
        try:
            with Image.open(path) as image:
                self._frames = [pil_to_rgb_array(frame) for frame in ImageSequence.Iterator(image)]
        except Image.DecompressionBombError as error:
            raise ValueError(f"The gif {path!r} is larger than PIL's decompression-bomb limit: {error}") from error
        except (UnidentifiedImageError, OSError) as error:
            raise ValueError(f"Cannot read the gif {path!r}: {error}") from error
        if not self._frames:
            raise ValueError(f"The gif {path!r} holds no frames.")
        super().__init__(len(self._frames), *self._frames[0].shape[:2], f"the gif {path!r}")

    def _read(self, indices: list[int]) -> list[np.ndarray]:
        return [self._frames[i] for i in indices]


class VideoFileClip(Clip):
    """A video file decoded with decord (frames decoded only when asked for, on `frame_threads` threads).

    decord's frames of some streams (MPEG-4 Part 2 with B-frames) depend on what the reader decoded before them
    (where it seeks from), so `reads_depend_on_history`: the processor reads a video file as the original does, a
    fresh reader walking the sampled frames, then the frames the masks lie on, in a second walk.
    """

    reads_depend_on_history = True

    def __init__(self, path: str):
        import decord

        check_regular_file(path, "video file")
        if os.path.getsize(path) == 0:
            raise ValueError(f"The video file {path!r} is empty.")
        try:
            # ffmpeg's threaded decoding gives the same frames as one thread
            self._reader = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=frame_threads(MAX_FRAME_THREADS))
            num_frames = len(self._reader)
            height, width = self._frame_size() if num_frames else (0, 0)
        except (decord.DECORDError, RuntimeError) as error:  # decord reports unreadable files as RuntimeError
            raise ValueError(f"Cannot decode the video file {path!r} (unreadable or corrupt): {error}") from error
        super().__init__(num_frames, height, width, f"the video {path!r}")
        self._path = path

    def _frame_size(self) -> tuple[int, int]:
        """`(height, width)` of the decoded frames (rotation applied), from the stream's parameters: an empty batch
        has the frames' shape, and costs no decoding (decoding frame 0 would, and would make the first read seek
        back to it)."""
        import decord

        try:
            shape = tuple(self._reader.get_batch([]).shape)
        except (decord.DECORDError, RuntimeError, ValueError, IndexError):  # a decord that refuses empty batches
            shape = ()
        if len(shape) == 4 and shape[1] > 0 and shape[2] > 0:
            return int(shape[1]), int(shape[2])
        return tuple(self._reader[0].shape[:2])  # a reader that does not report the size: decode frame 0

    def _read(self, indices: list[int]) -> list[np.ndarray]:
        import decord

        try:
            batch = self._reader.get_batch(indices).asnumpy()
        except (decord.DECORDError, RuntimeError) as error:
            which = f"frame {indices[0]}" if len(indices) == 1 else f"frames {indices}"
            raise ValueError(f"Cannot decode {which} of the video {self._path!r}: {error}") from error
        return [np.ascontiguousarray(frame) for frame in batch]

    def for_each_frame(self, indices: Sequence[int], function: Callable[[int, np.ndarray], Any]) -> None:
        """As `Clip.for_each_frame`: frames are decoded in increasing order on this thread (decord's `get_batch`
        one index at a time walks the stream exactly as one call with every index does) while `function` runs on
        `frame_threads` threads over the frames decoded so far."""
        unique = self._distinct_indices(indices)
        threads = frame_threads(len(unique))
        if threads == 1:
            for index in unique:
                function(index, self._checked(index, self._read([index])[0]))
            return
        futures = []
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="videorefer-frames") as pool:
            try:
                for index in unique:
                    futures.append(pool.submit(function, index, self._checked(index, self._read([index])[0])))
            finally:
                for future in futures:  # the first failure of `function`, in frame order, before a decoding error
                    if future.exception() is not None:
                        raise future.exception()

    def frame_times(self) -> np.ndarray:
        """`(num_frames, 2)` float: each frame's start and end time in seconds, from the container's timestamps."""
        import decord

        try:
            return np.asarray(self._reader.get_frame_timestamp(list(range(self.num_frames))), dtype=np.float64)
        except (decord.DECORDError, RuntimeError) as error:
            raise ValueError(f"Cannot read the frame timestamps of the video {self._path!r}: {error}") from error


def open_clip(media: Any) -> Clip:
    """Open a clip: a video file, a folder of frames, a gif, a list of frames, or a (T, H, W, 3) array/tensor."""
    if isinstance(media, Clip):
        return media
    if isinstance(media, (str, os.PathLike)):
        path = os.fspath(media)
        if not os.path.exists(path):
            raise FileNotFoundError(f"No such video file or frame folder: {path!r}")
        if os.path.isdir(path):
            return FolderClip(path)
        if path.lower().endswith(GIF_EXTENSIONS):
            return GifClip(path)
        return VideoFileClip(path)
    if hasattr(media, "detach") and hasattr(media, "cpu"):
        media = media.detach().cpu().numpy()
    if isinstance(media, np.ndarray):
        if media.ndim != 4 or media.shape[-1] not in (3, 4):
            raise ValueError(f"A video array must be (frames, height, width, 3), got shape {media.shape}.")
        return ArrayClip(list(media), "the video array")
    if isinstance(media, (list, tuple)):
        if media and isinstance(media[0], (str, os.PathLike)):
            missing = [p for p in media if not os.path.isfile(os.fspath(p))]
            if missing:
                raise FileNotFoundError(f"No such frame file(s): {missing[:5]}")
            return ImageFilesClip([os.fspath(p) for p in media], "the list of frame files")
        return ArrayClip(media)
    raise TypeError(
        "A video must be a path (video file, gif or frame folder), a list of frames (PIL images or arrays) or a "
        f"(frames, height, width, 3) array/tensor; got {type(media).__name__}."
    )


def load_image(media: Any) -> np.ndarray:
    """An image as an (H, W, 3) uint8 array, from a path, a PIL image, an array or a tensor."""
    if isinstance(media, (str, os.PathLike)):
        path = os.fspath(media)
        if not os.path.exists(path):
            raise FileNotFoundError(f"No such image file: {path!r}")
        return read_image_file(path, "image")
    return _to_rgb_array(media, "the image")
