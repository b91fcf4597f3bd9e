# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""The LLM judge of VideoRefer-Bench-D: any OpenAI-compatible chat endpoint, a disk cache, and score parsing.

The judge compares a predicted description with the reference one on the 4 dimensions of the original evaluation,
each an integer from 0 to 5, and answers as `N. Dimension: score` lines. Every usable reply (one with the 4 scores)
is cached on disk under a hash of (judge model, messages), so a rerun never asks twice for it; an unusable one is
not cached, so a rerun asks again. Requests go over plain `urllib` (no SDK).
"""

import hashlib
import http.client
import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DIMENSIONS = ("Subject Correspondence", "Appearance Description", "Temporal Description", "Hallucination Detection")
MAX_SCORE = 5

# The rubric of the original judge (its 4 dimensions, 0-5 integer scale and output format), in our own words.
JUDGE_SYSTEM_PROMPT = "\n".join(
    [
        "You grade object-level video descriptions for factual accuracy.",
        "You are given a reference description of one object in a video (the correct answer) and a description of "
        "the same object written by a model (the predicted answer). Compare them carefully and judge how well the "
        "prediction agrees with the reference on four dimensions:",
        "1. Subject Correspondence: does the prediction talk about the same subject (the same kind of object, the "
        "same individual) as the reference?",
        "2. Appearance Description: are the visual details right: colour, shape, size, texture and any other "
        "visible attribute?",
        "3. Temporal Description: do the movements and actions described over time match those of the reference?",
        "4. Hallucination Detection: is the prediction free of things that are not there: invented facts, actions "
        "or objects, imaginative readings or wrong inferences? (5 means nothing is made up.)",
        "Score each dimension with an integer from 0 to 5: 5 means a perfect match, 0 means no relation at all. "
        "Justify each score briefly.",
        "Answer in exactly this format:",
        *(f"{number}. {name}: <score>\nExplanation: <one or two sentences>" for number, name in enumerate(DIMENSIONS, 1)),
    ]
)

# Sampling settings of the original judge calls.
DEFAULT_TEMPERATURE = 0.7
DEFAULT_TOP_P = 0.95
DEFAULT_MAX_TOKENS = 800
DEFAULT_JUDGE_MODEL = "gpt-4o"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
ENV_BASE_URL = ("VIDEOREFER_JUDGE_BASE_URL", "OPENAI_BASE_URL")
ENV_MODEL = ("VIDEOREFER_JUDGE_MODEL",)
ENV_API_KEY = ("VIDEOREFER_JUDGE_API_KEY", "OPENAI_API_KEY")
RETRY_STATUS = (408, 409, 425, 429, 500, 502, 503, 504)


class JudgeError(ValueError):
    """The judge gave no usable reply for one item (request failed, or a reply without the 4 scores)."""


class JudgeConfigurationError(ValueError):
    """The judge endpoint refuses every request (wrong URL, model or key): no point going on."""


def judge_messages(reference: str, prediction: str) -> list[dict[str, str]]:
    """The chat messages that ask the judge to grade one prediction against its reference caption."""
    user = f"Correct answer: {reference}\nPredicted answer: {prediction}\n"
    return [{"role": "system", "content": JUDGE_SYSTEM_PROMPT}, {"role": "user", "content": user}]


# ------------------------------------------------------------------------------------------------ parsing
def _dimension_pattern(name: str) -> re.Pattern:
    words = r"[\s*_`]*".join(re.escape(word) for word in name.split())
    decoration = r"[\s*_`#>]*"
    return re.compile(
        words
        + decoration
        + r"(?:\([^)\n]{0,20}\))?"  # an abbreviation: "(SC)"
        + decoration
        + r"(?:score" + decoration + r")?"  # "Subject Correspondence Score: 4"
        + r"[:：=\-–—]"
        + r"[\s*_`#>\[(]*"
        + r"(?:score\s*(?:of\s*)?[:=]?[\s*_`\[(]*)?"  # "Subject Correspondence: Score 4"
        + r"(\d+(?:\.\d+)?)",
        re.IGNORECASE,
    )


_PATTERNS = {name: _dimension_pattern(name) for name in DIMENSIONS}


def parse_judge_scores(reply: str) -> dict[str, float]:
    """The 4 scores of a judge reply: per dimension, the number after its name (first occurrence).

    Tolerates numbering, markdown (`**Subject Correspondence**: **4**`), an abbreviation in parentheses, `4/5`,
    `Score: 4`, other separators (`-`, `=`) and any text around them.

    Raises:
        JudgeError: a dimension has no score, or a score is outside 0-5.
    """
    if not isinstance(reply, str) or not reply.strip():
        raise JudgeError("the judge reply is empty")
    scores, missing = {}, []
    for name, pattern in _PATTERNS.items():
        match = pattern.search(reply)
        if match is None:
            missing.append(name)
            continue
        value = float(match.group(1))
        if not 0 <= value <= MAX_SCORE:
            raise JudgeError(f"the {name} score {value:g} is outside 0-{MAX_SCORE}")
        scores[name] = value
    if missing:
        excerpt = " ".join(reply.split())[:160]
        raise JudgeError(f"no score found for {', '.join(missing)} in the judge reply: {excerpt!r}")
    return scores


# ------------------------------------------------------------------------------------------------ cache
class JudgeCache:
    """Judge replies on disk, one JSON file per (model, messages), named by their SHA-256."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = os.fspath(folder)
        os.makedirs(self.folder, exist_ok=True)

    @staticmethod
    def key(model: str, messages: Sequence[Mapping[str, Any]]) -> str:
        """The SHA-256 of the canonical JSON of (model, messages)."""
        payload = json.dumps({"model": model, "messages": list(messages)}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def _path(self, key: str) -> str:
        return os.path.join(self.folder, f"{key}.json")

    def get(self, model: str, messages: Sequence[Mapping[str, Any]]) -> str | None:
        """The cached reply, or None (an unreadable cache file counts as absent)."""
        path = self._path(self.key(model, messages))
        if not os.path.isfile(path):
            return None
        try:
            with open(path, encoding="utf-8") as handle:
                entry = json.load(handle)
        except (OSError, json.JSONDecodeError):
            return None
        reply = entry.get("reply") if isinstance(entry, dict) else None
        return reply if isinstance(reply, str) else None

    def put(self, model: str, messages: Sequence[Mapping[str, Any]], reply: str) -> None:
        """Store a reply (atomically: written to a temporary file, then renamed)."""
        key = self.key(model, messages)
        temporary = self._path(key) + f".{os.getpid()}.{time.monotonic_ns()}.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump({"model": model, "messages": list(messages), "reply": reply}, handle, ensure_ascii=False)
        os.replace(temporary, self._path(key))


# ------------------------------------------------------------------------------------------------ client
@dataclass
class JudgeClient:
    """A chat-completions client for an OpenAI-compatible endpoint (`{base_url}/chat/completions`).

    Attributes:
        base_url: e.g. `https://api.openai.com/v1` or `http://127.0.0.1:8000/v1` (a local server).
        model: the judge model's name at that endpoint.
        api_key: sent as a bearer token when given.
        max_retries: retries of a failed request (network errors, 429 and 5xx), with exponential waits.
    """

    base_url: str
    model: str = DEFAULT_JUDGE_MODEL
    api_key: str | None = None
    temperature: float = DEFAULT_TEMPERATURE
    top_p: float = DEFAULT_TOP_P
    max_tokens: int = DEFAULT_MAX_TOKENS
    timeout: float = 120.0
    max_retries: int = 3
    retry_wait: float = 1.0

    @property
    def url(self) -> str:
        """The chat-completions URL."""
        return self.base_url.rstrip("/") + "/chat/completions"

    def _request(self, messages: Sequence[Mapping[str, Any]]) -> bytes:
        body = {
            "model": self.model,
            "messages": list(messages),
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
        }
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=json.dumps(body).encode("utf-8"), headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return response.read()

    def complete(
        self, messages: Sequence[Mapping[str, Any]], check: Callable[[str], Any] | None = None
    ) -> str:
        """The judge's reply text to `messages`.

        Transient failures are retried (up to `max_retries` times, with exponential waits): network errors, HTTP 408,
        409, 425, 429 and 5xx, a 200 whose body is not a chat completion (a proxy's error page), and, with `check`
        (e.g. `parse_judge_scores`), a reply that `check` refuses with `JudgeError` (a sampled reply may be usable
        the next time).

        Raises:
            JudgeConfigurationError: the endpoint answered 401, 403 or 404 (wrong key, model or URL).
            JudgeError: no usable reply after the retries.
        """
        last_error = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.retry_wait * 2 ** (attempt - 1))
            try:
                raw = self._request(messages)
            except urllib.error.HTTPError as error:
                detail = error.read()[:300].decode("utf-8", errors="replace")
                if error.code in (401, 403, 404):
                    raise JudgeConfigurationError(
                        f"The judge endpoint {self.url} answered HTTP {error.code} for model {self.model!r}: "
                        f"{detail}. Check --judge-base-url, --judge-model and --judge-api-key."
                    ) from error
                last_error = f"HTTP {error.code}: {detail}"
                if error.code not in RETRY_STATUS:
                    break
                continue
            except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError) as error:
                last_error = f"{type(error).__name__}: {getattr(error, 'reason', error)}"
                continue
            try:
                reply = self._reply_text(raw)
                if check is not None:
                    check(reply)
            except JudgeError as error:
                last_error = str(error)
                continue
            return reply
        attempts = self.max_retries + 1
        raise JudgeError(f"no usable reply from the judge at {self.url} after {attempts} attempt(s) ({last_error})")

    def _reply_text(self, raw: bytes) -> str:
        try:
            response = json.loads(raw.decode("utf-8"))
            content = response["choices"][0]["message"]["content"]
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, IndexError, TypeError) as error:
            excerpt = raw[:160].decode("utf-8", errors="replace")
            raise JudgeError(f"the judge endpoint did not return a chat completion ({error!r}): {excerpt!r}") from error
        if isinstance(content, list):  # content parts
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        if not isinstance(content, str):
            raise JudgeError(f"the judge reply has no text content: {content!r}")
        return content


def _first_env(names: Sequence[str]) -> str | None:
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    return None


def judge_client_from_settings(
    base_url: str | None = None, model: str | None = None, api_key: str | None = None, **kwargs: Any
) -> JudgeClient:
    """A client from flags, falling back on the environment (`VIDEOREFER_JUDGE_BASE_URL` / `OPENAI_BASE_URL`,
    `VIDEOREFER_JUDGE_MODEL`, `VIDEOREFER_JUDGE_API_KEY` / `OPENAI_API_KEY`), then on OpenAI's API and gpt-4o.

    Raises:
        ValueError: a URL that is not http(s), or OpenAI's API without a key.
    """
    base_url = base_url or _first_env(ENV_BASE_URL) or DEFAULT_BASE_URL
    model = model or _first_env(ENV_MODEL) or DEFAULT_JUDGE_MODEL
    api_key = api_key or _first_env(ENV_API_KEY)
    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f"The judge base URL must start with http:// or https://, got {base_url!r}.")
    if base_url.rstrip("/") == DEFAULT_BASE_URL and not api_key:
        raise ValueError(
            "No judge API key: pass --judge-api-key or set OPENAI_API_KEY, or point --judge-base-url (or "
            "VIDEOREFER_JUDGE_BASE_URL) at another OpenAI-compatible server, e.g. a local one."
        )
    return JudgeClient(base_url=base_url, model=model, api_key=api_key, **kwargs)


__all__ = [
    "DIMENSIONS",
    "JUDGE_SYSTEM_PROMPT",
    "JudgeCache",
    "JudgeClient",
    "JudgeConfigurationError",
    "JudgeError",
    "judge_client_from_settings",
    "judge_messages",
    "parse_judge_scores",
]
