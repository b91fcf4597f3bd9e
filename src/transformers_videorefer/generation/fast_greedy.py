# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Fast greedy generation for long answers and many batches (benchmarks, captioning).

`model.generate` stays the general API. `FastGreedyGenerator` is a narrower, faster path for greedy decoding:
the prompt goes through the normal forward (vision tower, connector, region encoder, language model) into a static
KV cache; every later token is one call of a compiled step (embedding -> Qwen2 -> LM head -> argmax) that, on a GPU,
`torch.compile(mode="reduce-overhead")` replays as a CUDA graph. One static cache and one compiled step are kept
per batch size and reused from call to call, so nothing is recompiled or re-recorded after the first batch of a
size. Its tokens are those of `model.generate(do_sample=False)` (tested on the golden cases).

It takes both families: VideoRefer-7B (`VideoReferForConditionalGeneration`) and VideoRefer-VideoLLaMA3
(`VideoReferVL3ForConditionalGeneration`), whose forward merges the visual and region features and removes the
compressed `<image>` positions before the language model: the prompt then fills fewer cache positions than
`input_ids` has, which the forward's `attention_mask` output says.

Compilation is paid once: whether the step is compiled is chosen from the run's length (`compile_policy`), and
the compiled step is cached across runs (`compile_cache`); `compile_choice.report` says what was done.
"""

import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

import torch
from transformers import StaticCache

from .compile_cache import CompileCache, compile_cache_key
from .compile_policy import COMPILE_MODES, CompileChoice, choose_compile

logger = logging.getLogger(__name__)

CHECK_EOS_EVERY = 8


def _compile_mode(compile: bool | str | None) -> str:
    """The `compile_policy` mode of the `compile` argument: None -> "auto", True -> "always", False -> "never"."""
    if compile is None or isinstance(compile, bool):
        return {None: "auto", True: "always", False: "never"}[compile]
    if isinstance(compile, str) and compile in COMPILE_MODES:
        return compile
    raise ValueError(f"compile must be True, False, None or one of {COMPILE_MODES}, got {compile!r}.")


class FastGreedyGenerator:
    """Greedy generation with reused static caches and a compiled decoding step.

    Args:
        model: a `VideoReferForConditionalGeneration` or a `VideoReferVL3ForConditionalGeneration`.
        max_cache_len: positions of every static cache: prompt + new tokens must fit.
        compile: compile the decoding step: True / "always", False / "never", or None / "auto" (the default):
            on CUDA devices, when the run is long enough to repay the compilation (`compile_policy.choose_compile`
            with `expected_steps` and `batch_sizes`, cheaper when the compile cache holds the step).
        expected_steps: decoding steps the run will take at most (batches x max_new_tokens), for "auto"; None:
            unknown, compile.
        batch_sizes: distinct batch sizes the run uses (each compiles its own step), for "auto".
        compile_cache: where compiled steps are cached across runs: None (the default) caches in
            `compile_cache.default_cache_dir()` on CUDA devices, False caches nothing, a path caches there.
        tune_kernels: let inductor tune the launch settings of the step's generated kernels (coordinate descent):
            the first call per batch size compiles for about a minute instead of half of one, and a bs=1 step of the
            7B model on an H100 drops from 8.0 to 7.3 ms (`benchmarks/profile_decode.py`).

    Example:

    ```python
    >>> generator = FastGreedyGenerator(model, max_cache_len=2048)
    >>> for batch in batches:  # processor outputs, left padded
    ...     out = generator.generate(**batch, max_new_tokens=256)  # (batch, prompt + new tokens), like generate
    ```
    """

    def __init__(
        self,
        model: torch.nn.Module,
        max_cache_len: int,
        compile: bool | str | None = None,
        tune_kernels: bool = False,
        expected_steps: int | None = None,
        batch_sizes: int = 1,
        compile_cache: bool | str | os.PathLike | None = None,
    ):
        if max_cache_len < 2:
            raise ValueError(f"max_cache_len must be at least 2, got {max_cache_len}.")
        if not (hasattr(model, "model") and hasattr(model.model, "language_model") and hasattr(model, "lm_head")):
            raise TypeError(
                f"FastGreedyGenerator needs a VideoRefer or VideoRefer-VideoLLaMA3 model with `model.language_model` "
                f"and `lm_head`, got {type(model).__name__}."
            )
        self.model = model
        self.max_cache_len = int(max_cache_len)
        self.tune_kernels = tune_kernels
        mode = _compile_mode(compile)
        on_cuda = model.device.type == "cuda"
        self.compile_options = {"triton.cudagraphs": True, "coordinate_descent_tuning": tune_kernels}
        self.compile_cache = None
        if compile_cache is not False and (compile_cache is not None or on_cuda):
            key = compile_cache_key(model, self.max_cache_len, self.compile_options)
            self.compile_cache = CompileCache(key, None if compile_cache in (None, True) else compile_cache)
        hit = self.compile_cache is not None and self.compile_cache.has()
        self.compile_choice: CompileChoice = choose_compile(
            mode, expected_steps, batch_sizes, cache_hit=hit, can_compile=on_cuda, tune_kernels=tune_kernels
        )
        self.compile = self.compile_choice.compile
        logger.info("fast generation: %s", self.compile_choice.report)
        self.cache_status: dict[int, str] = {}  # batch size -> "cache hit" / "cache miss" once its step compiled
        self._states: dict[int, _DecodeState] = {}

    def _state(self, batch_size: int, device: torch.device) -> "_DecodeState":
        state = self._states.get(batch_size)
        if state is None:
            state = _DecodeState(
                self.model, batch_size, self.max_cache_len, device, self.compile, self.tune_kernels,
                on_first_call=self._cached_first_call(batch_size) if self.compile else None,
            )
            self._states[batch_size] = state
        else:
            state.cache.reset()
        return state

    def _cached_first_call(self, batch_size: int) -> Callable[[Callable[[], torch.Tensor]], torch.Tensor]:
        """Wrap the first call of a compiled step: load the cache entry before it compiles, save one after."""

        def first_call(step: Callable[[], torch.Tensor]) -> torch.Tensor:
            hit = self.compile_cache is not None and self.compile_cache.load(batch_size)
            token = step()
            if self.compile_cache is not None and not hit:
                self.compile_cache.save(batch_size)
            self.cache_status[batch_size] = "cache hit" if hit else "cache miss"
            logger.info("fast generation: batch size %d compiled (%s)", batch_size, self.cache_status[batch_size])
            return token

        return first_call

    @torch.inference_mode()
    def generate(
        self,
        input_ids: torch.Tensor,
        max_new_tokens: int,
        attention_mask: torch.Tensor | None = None,
        min_new_tokens: int = 0,
        eos_token_id: int | Iterable[int] | None = None,
        pad_token_id: int | None = None,
        **model_inputs: Any,
    ) -> torch.Tensor:
        """Greedy decoding of at most `max_new_tokens` (at least `min_new_tokens`) after a left-padded prompt.

        `model_inputs` are the processor's other outputs (pixel values, region inputs). EOS defaults to the model's
        generation config; EOS cannot be chosen before `min_new_tokens`; finished rows are padded with
        `pad_token_id` and decoding stops when every row has finished. Returns `(batch, prompt + generated)` ids,
        as `model.generate(do_sample=False)` does.
        """
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}.")
        batch_size, prompt_length = input_ids.shape
        if prompt_length + max_new_tokens > self.max_cache_len:
            raise ValueError(
                f"The prompt ({prompt_length} tokens) plus {max_new_tokens} new tokens need "
                f"{prompt_length + max_new_tokens} cache positions, but this generator's caches hold "
                f"{self.max_cache_len}; make it with a larger max_cache_len."
            )
        device = input_ids.device
        generation_config = self.model.generation_config
        eos = generation_config.eos_token_id if eos_token_id is None else eos_token_id
        eos_list = [] if eos is None else ([eos] if isinstance(eos, int) else list(eos))
        eos_ids = torch.tensor(eos_list, dtype=torch.long, device=device)
        pad = pad_token_id if pad_token_id is not None else generation_config.pad_token_id
        pad = pad if pad is not None else (eos_list[0] if eos_list else 0)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)

        state = self._state(batch_size, device)
        position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)  # left padding, as generate numbers it
        outputs = self.model(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, cache=state.cache,
            use_cache=True, logits_to_keep=1, **model_inputs,
        )
        compressed_mask = getattr(outputs, "attention_mask", None)  # VL3: the prompt after token compression
        region_keep_mask = getattr(outputs, "region_keep_mask", None)  # VideoRefer-7B: region tokens kept
        if compressed_mask is not None:
            attention_mask = compressed_mask.to(attention_mask.dtype)
        elif region_keep_mask is not None:
            attention_mask = attention_mask * region_keep_mask.to(attention_mask.dtype)
        prompt_length = attention_mask.shape[1]  # cache positions the prompt filled
        state.mask.zero_()
        state.mask[:, :prompt_length] = attention_mask
        state.positions.copy_(attention_mask.long().sum(-1, keepdim=True))  # the next position of each row
        state.eos_mask.zero_()
        state.eos_mask[eos_ids] = True

        logits = outputs.logits[:, -1]
        if min_new_tokens > 0:
            logits = logits.masked_fill(state.eos_mask, float("-inf"))
        token = logits.argmax(-1)
        finished = torch.isin(token, eos_ids)
        generated = [token]
        for index in range(1, max_new_tokens):
            if index % CHECK_EOS_EVERY == 0 and bool(finished.all()):
                break
            state.tokens.copy_(token[:, None])
            state.mask[:, prompt_length + index - 1] = 1
            state.suppress_eos.fill_(index < min_new_tokens)
            token = state.step()
            state.positions += 1
            token = torch.where(finished, torch.full_like(token, pad), token)
            finished = finished | torch.isin(token, eos_ids)
            generated.append(token)
        new_tokens = torch.stack(generated, dim=1)
        # `generate` stops right after the step where the last row finished: drop the columns past it.
        is_eos = torch.isin(new_tokens, eos_ids)
        row_end = torch.where(is_eos.any(dim=1), is_eos.int().argmax(dim=1) + 1, new_tokens.shape[1])
        # the caller's input_ids (for VL3 the uncompressed prompt), then the new tokens, as `generate` returns them
        return torch.cat([input_ids, new_tokens[:, : int(row_end.max())]], dim=1)


class _DecodeState:
    """What one batch size keeps between calls: its static cache, input buffers and compiled decoding step."""

    def __init__(
        self,
        model: torch.nn.Module,
        batch_size: int,
        max_cache_len: int,
        device: torch.device,
        compile: bool,
        tune_kernels: bool = False,
        cuda_graphs: bool = True,
        on_first_call: Callable[[Callable[[], torch.Tensor]], torch.Tensor] | None = None,
    ):
        self.cache = StaticCache(config=model.config.get_text_config(decoder=True), max_cache_len=max_cache_len)
        self.tokens = torch.zeros(batch_size, 1, dtype=torch.long, device=device)
        self.positions = torch.zeros(batch_size, 1, dtype=torch.long, device=device)
        self.mask = torch.zeros(batch_size, max_cache_len, dtype=torch.long, device=device)
        self.eos_mask = torch.zeros(model.config.get_text_config().vocab_size, dtype=torch.bool, device=device)
        self.suppress_eos = torch.zeros(1, dtype=torch.bool, device=device)
        language_model = model.model.language_model
        lm_head = model.lm_head
        cache, tokens, positions, mask = self.cache, self.tokens, self.positions, self.mask
        eos_mask, suppress_eos = self.eos_mask, self.suppress_eos

        def step() -> torch.Tensor:
            """One greedy step from the buffers: the next token of each row, `(batch,)`."""
            embeds = language_model.get_input_embeddings()(tokens)
            hidden = language_model(
                inputs_embeds=embeds, position_ids=positions, attention_mask=mask, cache=cache, use_cache=True
            ).last_hidden_state
            logits = lm_head(hidden[:, -1])
            return logits.masked_fill(eos_mask & suppress_eos, float("-inf")).argmax(-1)

        if compile:
            for buffer in (tokens, positions, mask, eos_mask, suppress_eos):
                torch._dynamo.mark_static_address(buffer)
            # triton.cudagraphs is what mode="reduce-overhead" sets: the step replays as a CUDA graph
            options = {"triton.cudagraphs": cuda_graphs, "coordinate_descent_tuning": tune_kernels}
            step = torch.compile(step, options=options, fullgraph=True, dynamic=False)
        self._step = step
        self._on_first_call = on_first_call

    def step(self) -> torch.Tensor:
        """One greedy step (the first call of a compiled step goes through `on_first_call`, e.g. the cache)."""
        if self._on_first_call is not None:
            first_call, self._on_first_call = self._on_first_call, None
            return first_call(self._step)
        return self._step()
