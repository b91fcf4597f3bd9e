"""transformers' own common processor tests (`ProcessorTesterMixin`, vendored under `tests/transformers_common/`,
see its header for source and version), run against the VideoRefer processor of the golden checkpoint.

Skips below carry the reason the test does not apply to this processor; tests that fail because of a gap in the
package are deliberately left unmarked.
"""

import unittest

import os

import pytest

if os.environ.get("VIDEOREFER_COMMON_TESTS") != "1":
    pytest.skip(
        "transformers' common suites are being brought up for VideoRefer (issue 15, in progress: the failures still "
        "open are listed in that issue's note); run them with VIDEOREFER_COMMON_TESTS=1 (and `pip install "
        "parameterized`)",
        allow_module_level=True,
    )

from conftest import GOLDEN_ENV_VAR, GOLDEN_SUBDIR, find_golden_dir

GOLDEN_DIR = find_golden_dir()
if GOLDEN_DIR is None:
    pytest.skip(
        f"golden VideoRefer fixture not found ({GOLDEN_SUBDIR}/checkpoint); set {GOLDEN_ENV_VAR} to the `golden` "
        "folder to run transformers' common processor tests",
        allow_module_level=True,
    )

from transformers import AutoProcessor  # noqa: E402

import transformers_videorefer  # noqa: E402,F401  (registers the auto classes)
from transformers_common.test_processing_common import ProcessorTesterMixin  # noqa: E402
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

    # These reload the saved processor through `AutoProcessor`, which in transformers 5.24 builds the torchvision
    # ("fast") video/image processor classes; torchvision cannot be installed in the package's environment.
    NO_TORCHVISION = "AutoProcessor reload needs torchvision (fast processors), which the package's environment lacks"

    @unittest.skip(reason=NO_TORCHVISION)
    def test_subprocessor_defaults_0_text(self):
        pass

    @unittest.skip(reason=NO_TORCHVISION)
    def test_subprocessor_defaults_1_images(self):
        pass

    @unittest.skip(reason=NO_TORCHVISION)
    def test_subprocessor_defaults_2_videos(self):
        pass

    @unittest.skip(reason=NO_TORCHVISION)
    def test_tokenizer_decode_defaults(self):
        pass
