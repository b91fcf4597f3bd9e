# Copyright 2019 HuggingFace Inc.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
#
# ---------------------------------------------------------------------------------------------------------------------
# VENDORED (not part of transformers_videorefer's own code).
# Source: huggingface/transformers `tests/utils/test_configuration_utils.py`, as in the huggingface/transformers-test-ci
#   mirror at commit 78007d98e3c4048016ff6f163ac456718d144e10 (transformers 5.6.0.dev0). The 5.24.0 sdist that the
#   package pins does not ship this file.
# Changes: only `config_common_kwargs` is kept (the one name `test_configuration_common.py` imports). The file's own
#   test classes (hub push/staging tests, `test_module.custom_configuration` imports from transformers' `utils/`
#   folder, network tests) are dropped: they test transformers' `PreTrainedConfig`, not a model.
# ---------------------------------------------------------------------------------------------------------------------


config_common_kwargs = {
    "return_dict": False,
    "output_hidden_states": True,
    "output_attentions": True,
    "dtype": "float16",
    "chunk_size_feed_forward": 5,
    "architectures": ["BertModel"],
    "id2label": {0: "label"},
    "label2id": {"label": "0"},
    "problem_type": "regression",
}
