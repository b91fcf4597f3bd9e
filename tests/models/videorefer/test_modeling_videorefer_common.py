"""transformers' own common model tests (`ModelTesterMixin`, `GenerationTesterMixin`, `ConfigTester`), run against
VideoRefer the way a model inside transformers is tested (cf. transformers' llava-onevision tests).

The mixins are vendored under `tests/transformers_common/` (see each file's header for its source and version); they
are not the package's own code. Skips below carry the reason the test does not apply to this model. Tests that fail
because of a gap in the package are deliberately left unmarked.
"""

import unittest

import os

import pytest
import torch

if os.environ.get("VIDEOREFER_COMMON_TESTS") != "1":
    pytest.skip(
        "transformers' common suites are being brought up for VideoRefer (issue 15, in progress: the failures still "
        "open are listed in that issue's note); run them with VIDEOREFER_COMMON_TESTS=1 (and `pip install "
        "parameterized`)",
        allow_module_level=True,
    )

from helpers import TINY_PAD_ID, TINY_TEXT_CONFIG, TINY_VISION_CONFIG, tiny_common_batch, tiny_config
from transformers_common.generation.test_utils import GenerationTesterMixin
from transformers_common.test_configuration_common import ConfigTester
from transformers_common.test_modeling_common import ModelTesterMixin
from transformers_videorefer import VideoReferConfig, VideoReferForConditionalGeneration, VideoReferModel

pytestmark = pytest.mark.timeout(120)

PER_SAMPLE_SPLIT = (
    "VideoRefer's region inputs are items over the whole batch, not per-sample rows: `region_mask_frame_index` "
    "indexes `region_pixel_values` globally (sample i's mask is on row i), so the mixin's generic per-sample slicing "
    "`v[i:i+1]` leaves an index pointing past the sliced frames"
)


class VideoReferModelTester:
    """Tiny VideoRefer (SigLIP 2 layers / Qwen2 1 layer, 4 frames -> 8 video tokens) with a video and one object's
    mask per sample, so that the region path (mask pooling + `<region>` features) runs in every test."""

    def __init__(self, parent, batch_size: int = 2, is_training: bool = True):
        self.parent = parent
        self.batch_size = batch_size
        self.is_training = is_training
        config = self.get_config()
        self.num_visual_tokens = VideoReferModel(config).expected_visual_tokens(config.num_frames)
        # 3 text + video tokens + 2 text + 1 <region> (1 mask) + 3 text
        self.seq_length = 3 + self.num_visual_tokens + 2 + 1 + 3
        text = config.text_config
        self.vocab_size = text.vocab_size
        self.hidden_size = text.hidden_size
        self.num_hidden_layers = text.num_hidden_layers
        self.num_attention_heads = text.num_attention_heads
        self.pad_token_id = TINY_PAD_ID
        self.image_token_id = config.image_token_id
        self.video_token_id = config.video_token_id
        self.region_token_id = config.region_token_id

    def get_config(self) -> VideoReferConfig:
        return tiny_config(text_config=dict(TINY_TEXT_CONFIG, pad_token_id=TINY_PAD_ID))

    def prepare_config_and_inputs_for_common(self):
        config = self.get_config()
        inputs = tiny_common_batch(config, self.num_visual_tokens, batch_size=self.batch_size)
        return config, inputs


class VideoReferModelTest(ModelTesterMixin, GenerationTesterMixin, unittest.TestCase):
    all_model_classes = (VideoReferModel, VideoReferForConditionalGeneration)
    all_generative_model_classes = (VideoReferForConditionalGeneration,)
    pipeline_model_mapping = {}
    _is_composite = True

    def setUp(self):
        self.model_tester = VideoReferModelTester(self)
        self.config_tester = ConfigTester(
            self,
            config_class=VideoReferConfig,
            has_text_modality=False,
            common_properties=["image_token_id", "video_token_id", "region_token_id"],
            vision_config=dict(TINY_VISION_CONFIG),
            text_config=dict(TINY_TEXT_CONFIG),
            num_frames=4,
        )

    def _prepare_for_class(self, inputs_dict, model_class, return_labels=False):
        inputs_dict = super()._prepare_for_class(inputs_dict, model_class, return_labels=return_labels)
        # The package's classes are not in transformers' auto mappings, from which the mixin derives labels: give
        # the causal-LM head its labels (the text positions; visual placeholders ignored), as a VLM tester does.
        if return_labels and model_class is VideoReferForConditionalGeneration:
            labels = inputs_dict["input_ids"].clone()
            for token in (self.model_tester.image_token_id, self.model_tester.video_token_id):
                labels[labels == token] = -100
            inputs_dict["labels"] = labels
        return inputs_dict

    def test_config(self):
        self.config_tester.run_common_tests()

    # ------------------------------------------------------------------------------------ not applicable (a)
    @unittest.skip(reason=PER_SAMPLE_SPLIT)
    def test_batching_equivalence(self):
        pass

    @unittest.skip(
        reason="VLMs need lots of steps to prepare images/masks correctly to get pad-free inputs (as transformers "
        "skips it for llava-onevision); the language model's padding-free path is Qwen2's, tested in transformers"
    )
    def test_flash_attention_2_padding_matches_padding_free_with_position_ids(self):
        pass
