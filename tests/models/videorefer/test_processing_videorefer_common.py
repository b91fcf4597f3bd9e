"""transformers' own common processor tests (`ProcessorTesterMixin`, vendored under `tests/transformers_common/`,
see its header for source and version), run against the VideoRefer processor of the golden checkpoint.

Skips below carry the reason the test does not apply to this processor (offline CI, one medium per sample); tests
that fail because of a gap in the package are deliberately left unmarked. Skips that the mixin makes itself (no
audio / feature extractor, no torchcodec / librosa, no `_get_num_multimodal_tokens`, no tools in the chat template)
are left to it.
"""

import unittest

import pytest
from golden_paths import GOLDEN_ENV_VAR, find_golden_fixture

GOLDEN_SUBDIR = "videorefer_tiny"
GOLDEN_DIR = find_golden_fixture(GOLDEN_SUBDIR)
if GOLDEN_DIR is None:
    pytest.skip(
        f"golden VideoRefer fixture not found ({GOLDEN_SUBDIR}/checkpoint); set {GOLDEN_ENV_VAR} to the `golden` "
        "folder to run transformers' common processor tests",
        allow_module_level=True,
    )

from transformers import AutoProcessor  # noqa: E402
from transformers_common.test_processing_common import ProcessorTesterMixin  # noqa: E402

import transformers_videorefer  # noqa: E402,F401  (registers the auto classes)
from transformers_videorefer import VideoReferProcessor  # noqa: E402

pytestmark = pytest.mark.timeout(120)


class VideoReferProcessorCommonTest(ProcessorTesterMixin, unittest.TestCase):
    processor_class = VideoReferProcessor
    model_id = str(GOLDEN_DIR / "checkpoint")

    @classmethod
    def _setup_from_pretrained(cls, model_id, **kwargs):
        # The processor as users get it: through the auto class (after `import transformers_videorefer`).
        kwargs.update(cls.prepare_processor_dict())
        processor = AutoProcessor.from_pretrained(model_id, **kwargs)
        assert isinstance(processor, VideoReferProcessor), type(processor)
        return processor

    # ------------------------------------------------------------------------------------ not applicable (a)
    # The suite runs offline (CI has no network): these build their chat messages from hub URLs of transformers'
    # test fixtures (hf-internal-testing/fixtures_image_utils, hf-internal-testing/test-videos).
    OFFLINE = "needs hf-internal-testing image/video fixtures downloaded from the Hub; the package's CI is offline"

    @unittest.skip(reason=OFFLINE)
    def test_apply_chat_template_image_0(self):
        pass

    @unittest.skip(reason=OFFLINE)
    def test_apply_chat_template_image_1(self):
        pass

    @unittest.skip(reason=OFFLINE)
    def test_apply_chat_template_video_0(self):
        pass

    @unittest.skip(reason=OFFLINE)
    def test_apply_chat_template_video_1(self):
        pass

    OFFLINE_VIDEO = OFFLINE + " (a tiny mp4 and a jpg, sampled by fps)"

    @unittest.skip(reason=OFFLINE_VIDEO)
    def test_apply_chat_template_video_frame_sampling(self):
        pass

    # ------------------------------------------------------------------------------------ not applicable (b)
    # VideoRefer takes ONE medium per sample (a video, or an image treated as a clip of `num_frames` copies), as the
    # original does: these tests put an <image> and a <video> marker in the same prompt, which the processor refuses
    # with a ValueError. (Their other checks are covered with one medium per sample: return_tensors with
    # text_kwargs={} in test_processing_kwargs.py; model inputs and text-only samples in a batch in
    # test_processing_videorefer.py / test_processing_conversations.py.)
    ONE_MEDIUM = "puts an image and a video in one prompt; VideoRefer takes one image or one video per sample"

    @unittest.skip(reason=ONE_MEDIUM)
    def test_model_input_names(self):
        pass

    @unittest.skip(reason=ONE_MEDIUM)
    def test_flat_kwarg_applied_when_modality_dict_lacks_it(self):
        pass

    @unittest.skip(reason=ONE_MEDIUM)
    def test_processor_text_has_no_visual(self):
        pass

    @unittest.skip(reason=ONE_MEDIUM)
    def test_processor_with_multiple_inputs(self):
        pass
