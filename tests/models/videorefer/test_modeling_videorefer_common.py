"""transformers' own common model tests (`ModelTesterMixin`, `GenerationTesterMixin`, `ConfigTester`), run against
VideoRefer the way a model inside transformers is tested (cf. transformers' llava-onevision tests).

The mixins are vendored under `tests/transformers_common/` (see each file's header for its source and version); they
are not the package's own code. Skips below carry the reason the test does not apply to this model. No test is marked
as an expected failure.
"""

import os
import tempfile
import unittest

import pytest
import torch
from helpers import TINY_PAD_ID, TINY_TEXT_CONFIG, TINY_VISION_CONFIG, tiny_common_batch, tiny_config
from safetensors.torch import load_file
from transformers.testing_utils import torch_device
from transformers_common.generation.test_utils import GenerationTesterMixin
from transformers_common.test_configuration_common import ConfigTester
from transformers_common.test_modeling_common import ModelTesterMixin

from transformers_videorefer import VideoReferConfig, VideoReferForConditionalGeneration, VideoReferModel

pytestmark = pytest.mark.timeout(120)

# Above 4: the eager-vs-sdpa harness pads batches with random ids below 5, which must not be placeholders.
IN_TABLE_IMAGE_TOKEN_ID = 5
IN_TABLE_VIDEO_TOKEN_ID = 6
IN_TABLE_REGION_TOKEN_ID = 7

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
        self.vision_config = dict(TINY_VISION_CONFIG)  # the mixins count the vision tower's layers from it
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
        self.text_only = False

    def get_config(self) -> VideoReferConfig:
        # Placeholder ids low in the embedding table, as transformers' VLM testers choose them (llava-onevision: 1
        # and 2): the mixins embed input_ids with get_input_embeddings(), find placeholders in inputs_embeds, and
        # clamp input_ids below a shrunk vocabulary. The released checkpoints put the media ids past the table and
        # `<region>` last; tests/models/videorefer/test_modeling_videorefer.py covers that layout.
        # Two text layers, as many as the vision tower's: the generation mixin counts the layers of video-feature
        # attentions from the tester's `num_hidden_layers` (llava-onevision's tester has 2 of each too).
        return tiny_config(
            text_config=dict(TINY_TEXT_CONFIG, num_hidden_layers=TINY_VISION_CONFIG["num_hidden_layers"], pad_token_id=TINY_PAD_ID),
            image_token_id=IN_TABLE_IMAGE_TOKEN_ID,
            video_token_id=IN_TABLE_VIDEO_TOKEN_ID,
            region_token_id=IN_TABLE_REGION_TOKEN_ID,
        )

    def image_inputs(self) -> dict:
        """`get_image_features` inputs: one image per sample, `(batch, 3, H, W)`."""
        size = self.get_config().vision_config.image_size
        return {"pixel_values": torch.randn(self.batch_size, 3, size, size, generator=torch.Generator().manual_seed(1))}

    def video_inputs(self) -> dict:
        """`get_video_features` inputs: one clip per sample, `(batch, num_frames, 3, H, W)`."""
        config = self.get_config()
        size = config.vision_config.image_size
        generator = torch.Generator().manual_seed(2)
        return {"pixel_values_videos": torch.randn(self.batch_size, config.num_frames, 3, size, size, generator=generator)}

    def prepare_config_and_inputs_for_common(self):
        config = self.get_config()
        if self.text_only:
            return config, self.text_only_inputs(config)
        inputs = tiny_common_batch(config, self.num_visual_tokens, batch_size=self.batch_size)
        return config, inputs

    def text_only_inputs(self, config: VideoReferConfig) -> dict:
        """A batch of text without placeholders, `(batch, seq_length)`."""
        special = {config.image_token_id, config.video_token_id, config.region_token_id, TINY_PAD_ID}
        generator = torch.Generator().manual_seed(3)
        input_ids = torch.randint(1, self.vocab_size, (self.batch_size, self.seq_length), generator=generator)
        for token in special:
            input_ids[input_ids == token] = 1
        return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}


class VideoReferModelTest(ModelTesterMixin, GenerationTesterMixin, unittest.TestCase):
    all_model_classes = (VideoReferModel, VideoReferForConditionalGeneration)
    all_generative_model_classes = (VideoReferForConditionalGeneration,)
    pipeline_model_mapping = {}
    _is_composite = True

    def setUp(self):
        self.model_tester = VideoReferModelTester(self)
        # transformers' eager-vs-sdpa harness feeds `input_ids` alone (padded to 7 rows with random ids), without the
        # visual inputs, which are not per-row tensors; llava-style models then embed their placeholders as text,
        # while VideoRefer refuses placeholders without their visual inputs. The harness gets text rows here; the
        # visual path under sdpa is compared with the original's (eager) logits by test_golden_logits_sdpa in
        # tests/models/videorefer/test_modeling_videorefer.py.
        self.model_tester.text_only = self._testMethodName.startswith("test_eager_matches_sdpa_inference")
        self.config_tester = ConfigTester(
            self,
            config_class=VideoReferConfig,
            has_text_modality=False,
            common_properties=["image_token_id", "video_token_id", "region_token_id"],
            # scalars only (as llava-onevision's tester): the JSON round trip compares each given value with what
            # the config writes, and a sub-config is written with all its model fields, not only those passed
            num_frames=4,
            region_token_num=3,
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

    # The mixins' feature helpers pick inputs by key name; VideoRefer's region inputs (`region_pixel_values`) are not
    # image inputs, and the tester's batch holds videos: give each method its own inputs, as transformers'
    # llava-onevision test does for videos.
    def _image_features_prepare_config_and_inputs(self):
        return self.model_tester.get_config(), self.model_tester.image_inputs()

    def _video_features_prepare_config_and_inputs(self):
        return self.model_tester.get_config(), self.model_tester.video_inputs()

    # `last_hidden_state` of get_video_features holds the vision features per frame, (num_videos * frames, grid^2,
    # hidden), as llava-onevision's (which merges videos and frames in the first dimension too); `pooler_output`
    # holds the connector tokens per video.
    skip_test_video_features_output_shape = True

    # VideoRefer reads SigLIP's features at `vision_feature_layer` -2, as the original: the tower's last layer, its
    # post-layernorm and its pooling head take no part in the forward and get no gradient (transformers marks the
    # same situation xfail for llava-onevision's gradient-checkpointing tests).
    test_all_params_have_gradient = False

    def _head_classes_only(self, run):
        """Run a training test on the classes with a head: transformers skips base models (no labels, no loss) by
        finding them in its own MODEL_MAPPING_NAMES, which cannot list a model of another package."""
        saved = self.all_model_classes
        self.all_model_classes = self.all_generative_model_classes
        try:
            return run()
        finally:
            self.all_model_classes = saved

    def test_multimodal_outputs_are_returned(self):
        """The mixin's check on `image_outputs`, run on `video_outputs`: the tester's batch holds a video per sample
        (VideoRefer's main media; one media per sample), not an image."""
        config, inputs_dict = self.model_tester.prepare_config_and_inputs_for_common()
        config.return_dict = True
        for model_class in self.all_generative_model_classes:
            model = model_class(config).to(torch_device).eval()
            model.set_attn_implementation("eager")
            with torch.no_grad():
                outputs = model(**self._prepare_for_class(inputs_dict, model_class))
            self.assertIsNotNone(outputs.video_outputs)
            self.assertTrue(hasattr(outputs.video_outputs, "attentions"))
            self.assertTrue(hasattr(outputs.video_outputs, "hidden_states"))
            self.assertEqual(len(outputs.video_outputs.pooler_output), self.model_tester.batch_size)
            self.assertIsNone(outputs.image_outputs)

    def test_reverse_loading_mapping(self):
        """The mixin's round trip through the original weight names, asked for explicitly: VideoRefer saves in its
        native layout by default (`save_original_format=False`, so that saved checkpoints and their remote code
        agree), where transformers' models write the original names unless told otherwise."""
        config, _ = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_generative_model_classes:
            model = model_class(config).eval()
            with tempfile.TemporaryDirectory() as folder:
                model.save_pretrained(folder, save_original_format=True)
                saved_keys = set(load_file(os.path.join(folder, "model.safetensors")))
                self.assertNotEqual(saved_keys, set(model.state_dict()), "no key was renamed to the original layout")
                self.assertTrue(any(key.startswith("model.vision_tower.vision_tower.") for key in saved_keys))
                reloaded = model_class.from_pretrained(folder).eval()
            for name, tensor in model.state_dict().items():
                torch.testing.assert_close(reloaded.state_dict()[name], tensor, rtol=0, atol=0, msg=name)

    def test_training(self):
        self._head_classes_only(super().test_training)

    def check_training_gradient_checkpointing(self, gradient_checkpointing_kwargs=None):
        parent = super().check_training_gradient_checkpointing
        self._head_classes_only(lambda: parent(gradient_checkpointing_kwargs))

    # ------------------------------------------------------------------------------------ not applicable (a)
    @unittest.skip(reason=PER_SAMPLE_SPLIT)
    def test_batching_equivalence(self):
        pass

    @unittest.skip(
        reason=PER_SAMPLE_SPLIT + " (the test splits every input tensor as `v[:half, :]`, 1-D region inputs included); "
        "the compiled static-cache decoding step is tested in tests/models/videorefer/test_modeling_videorefer.py "
        "(test_static_cache_decoding_step_compiles_fullgraph)"
    )
    def test_generate_compile_model_forward_fullgraph(self):
        pass

    @unittest.skip(
        reason="VLMs need lots of steps to prepare images/masks correctly to get pad-free inputs (as transformers "
        "skips it for llava-onevision); the language model's padding-free path is Qwen2's, tested in transformers"
    )
    def test_flash_attention_2_padding_matches_padding_free_with_position_ids(self):
        pass
