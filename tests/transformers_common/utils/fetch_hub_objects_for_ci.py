# Copyright 2021 The HuggingFace Team. All rights reserved.
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
# Source: huggingface/transformers `utils/fetch_hub_objects_for_ci.py` (repository-root `utils/`, not `tests/`), as in
#   the huggingface/transformers-test-ci mirror at commit 78007d98e3c4048016ff6f163ac456718d144e10
#   (transformers 5.6.0.dev0). The 5.24.0 sdist does not ship transformers' root `utils/` folder.
# Changes: only `url_to_local_path` is kept (the one name `test_processing_common.py` imports); the download script
#   itself (hub downloads of CI fixtures) is dropped.
# ---------------------------------------------------------------------------------------------------------------------
import os


def url_to_local_path(url, return_url_if_not_found=True):
    filename = url.split("/")[-1]

    if not os.path.exists(filename) and return_url_if_not_found:
        return url

    return filename
