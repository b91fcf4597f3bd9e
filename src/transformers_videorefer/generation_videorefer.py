# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Fast repeated generation: one static KV cache per batch size, reused from call to call.

`model.generate(..., cache_implementation="static")` builds a new static cache on every call; on a GPU the
compiled decoding step (CUDA graphs) then has to be re-recorded for the new cache tensors. Keeping one cache per
batch size, reset between calls, lets the compiled step be reused: what long answers over many batches (Bench-D,
captioning) want.
"""

from typing import Any

import torch
from transformers import StaticCache


class StaticCacheGenerator:
    """Greedy / sampled generation through `model.generate` with reused static caches.

    Args:
        model: a `VideoReferForConditionalGeneration` (or any generative transformers model).
        max_cache_len: the cache length of every batch size: prompt + new tokens must fit in it.

    Example:

    ```python
    >>> generator = StaticCacheGenerator(model, max_cache_len=2048)
    >>> for batch in batches:
    ...     out = generator.generate(**batch, max_new_tokens=256, do_sample=False)
    ```
    """

    def __init__(self, model: torch.nn.Module, max_cache_len: int):
        if max_cache_len < 2:
            raise ValueError(f"max_cache_len must be at least 2, got {max_cache_len}.")
        self.model = model
        self.max_cache_len = int(max_cache_len)
        self._caches: dict[int, StaticCache] = {}

    def cache_for(self, batch_size: int) -> StaticCache:
        """The (reset) static cache of `batch_size`, made on first use."""
        cache = self._caches.get(batch_size)
        if cache is None:
            cache = StaticCache(config=self.model.config.get_text_config(decoder=True), max_cache_len=self.max_cache_len)
            self._caches[batch_size] = cache
        else:
            cache.reset()
        return cache

    def generate(self, input_ids: torch.Tensor, max_new_tokens: int, **kwargs: Any) -> torch.Tensor:
        """`model.generate` with the static cache of this batch size; same arguments and output."""
        needed = input_ids.shape[1] + max_new_tokens
        if needed > self.max_cache_len:
            raise ValueError(
                f"The prompt ({input_ids.shape[1]} tokens) plus {max_new_tokens} new tokens need {needed} cache "
                f"positions, but this generator's caches hold {self.max_cache_len}; make it with a larger max_cache_len."
            )
        cache = self.cache_for(input_ids.shape[0])
        return self.model.generate(input_ids=input_ids, cache=cache, max_new_tokens=max_new_tokens, **kwargs)
