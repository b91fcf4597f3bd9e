"""Bench-D: the judge against a fake OpenAI-compatible server on 127.0.0.1 (scores parsed, replies cached so a rerun
sends nothing, malformed replies reported per item), score parsing, and descriptions end to end on the golden tiny
checkpoint."""

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from transformers_videorefer.cli.eval import add_eval_parser
from transformers_videorefer.evaluation.bench_d import DESCRIPTION_PROMPT, bench_d_samples, load_bench_d
from transformers_videorefer.evaluation.predictions import read_predictions
from transformers_videorefer.evaluation.judge import (
    DIMENSIONS,
    JudgeCache,
    JudgeClient,
    JudgeError,
    judge_client_from_settings,
    judge_messages,
    parse_judge_scores,
)
from transformers_videorefer.evaluation.media import resolve_media

from .benchmark_fixtures import fresh_accelerate_state, make_mini_bench_d  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("fresh_accelerate_state")

GOOD_REPLY = (
    "1. Subject Correspondence: 4\nExplanation: same lion.\n"
    "2. **Appearance Description**: **3**\nExplanation: colour right, size wrong.\n"
    "3. Temporal Description: 2/5\nExplanation: motion partly right.\n"
    "4. Hallucination Detection - Score: 5\nExplanation: nothing made up."
)


class FakeJudge(BaseHTTPRequestHandler):
    """`POST /v1/chat/completions`: scores for ordinary items; a reply without scores when the reference says
    MALFORMED; a body that is not JSON when it says BADJSON. Requests are recorded on the server."""

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        if self.path != "/v1/chat/completions":
            self._send(404, b'{"error": "not found"}')
            return
        user = body["messages"][-1]["content"]
        if "BADJSON" in user:
            self._send(200, b"<html>gateway hiccup</html>")
            return
        content = "I would rather not grade this one." if "MALFORMED" in user else GOOD_REPLY
        reply = {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}
        self._send(200, json.dumps(reply).encode())

    def _send(self, status, payload):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeJudge)
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    httpd.base_url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="videorefer")
    add_eval_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.run(args)


def write_predictions(path, captions):
    rows = [{"id": i, "video": f"v{i}.mp4", "caption": c, "pred": f"A description {i}.", "mode": "single", "num_frames": 8}
            for i, c in enumerate(captions)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def judge_argv(server, predictions, *extra):
    return ["eval", "bench-d-score", str(predictions), "--judge-base-url", server.base_url, "--judge-model", "fake-judge",
            "--judge-retries", "0", "--no-progress", *extra]


# ------------------------------------------------------------------------------------------------ parsing
@pytest.mark.parametrize(
    "reply",
    [
        GOOD_REPLY,
        "**Subject Correspondence (SC):** 4\n**Appearance Description:** 3 - ok\n### Temporal Description: [2]\n"
        "- *Hallucination Detection*: Score 5",
        "Here are my scores.\n1. subject correspondence = 4\n2. Appearance  Description: 3 (colour)\n"
        "3. Temporal Description Score: 2\n4. Hallucination Detection: 5. Explanation: fine",
    ],
)
def test_scores_parsed_despite_markdown_and_extra_text(reply):
    assert parse_judge_scores(reply) == dict(zip(DIMENSIONS, (4.0, 3.0, 2.0, 5.0)))


@pytest.mark.parametrize(
    "reply, message",
    [("", "empty"), ("1. Subject Correspondence: 4\n2. Appearance Description: 3", "Temporal Description"),
     (GOOD_REPLY.replace(": 4", ": 7"), "outside 0-5")],
)
def test_unusable_replies_raise(reply, message):
    with pytest.raises(JudgeError, match=message):
        parse_judge_scores(reply)


def test_cache_keys_on_model_and_messages(tmp_path):
    cache = JudgeCache(tmp_path)
    messages = judge_messages("ref", "pred")
    cache.put("m1", messages, "reply")
    assert cache.get("m1", messages) == "reply"
    assert cache.get("m2", messages) is None
    assert cache.get("m1", judge_messages("ref", "other")) is None


def test_settings_from_environment(monkeypatch):
    monkeypatch.setenv("VIDEOREFER_JUDGE_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("VIDEOREFER_JUDGE_MODEL", "local-judge")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    client = judge_client_from_settings()
    assert (client.url, client.model, client.api_key) == ("http://127.0.0.1:9/v1/chat/completions", "local-judge", "sk-test")
    assert judge_client_from_settings(model="flag-wins").model == "flag-wins"
    for name in ("VIDEOREFER_JUDGE_BASE_URL", "OPENAI_BASE_URL", "VIDEOREFER_JUDGE_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="API key"):
        judge_client_from_settings()


# ------------------------------------------------------------------------------------------------ judging
def test_judge_scores_cache_and_malformed_reply(server, tmp_path, capsys):
    predictions = tmp_path / "pred.jsonl"
    write_predictions(predictions, ["A lion cub rests.", "MALFORMED caption", "A dog runs."])
    assert run_cli(judge_argv(server, predictions, "--judge-api-key", "sk-local")) == 1  # incomplete: not 0
    assert len(server.requests) == 3
    request = server.requests[0]
    assert request["auth"] == "Bearer sk-local" and request["body"]["model"] == "fake-judge"
    system = request["body"]["messages"][0]
    assert system["role"] == "system" and "Hallucination Detection" in system["content"]
    report = json.loads((tmp_path / "pred.report.json").read_text())
    assert report["per_dimension"] == dict(zip(DIMENSIONS, (4.0, 3.0, 2.0, 5.0)))
    assert report["overall"] == 3.5 and report["count"] == 2
    assert report["not_scored"] == 1 and report["complete"] is False
    assert [e["id"] for e in report["errors"]] == [1] and "no score found" in report["errors"][0]["error"]
    judged = read_predictions(tmp_path / "pred.judged.jsonl")
    assert [j["scores"] is None for j in judged] == [False, True, False]
    captured = capsys.readouterr()
    assert "3.50" in captured.out and "not scored: item 1" in captured.out and "3 request(s)" in captured.out
    assert "INCOMPLETE: 1 of 3 item(s) not scored" in captured.out
    assert captured.err == (
        "videorefer eval bench-d-score: incomplete: 1 of 3 item(s) not scored (no usable judge reply); rerun the "
        "same command to ask the judge again for them.\n"
    )
    assert (tmp_path / "pred.png").read_bytes()[:4] == b"\x89PNG"

    # A rerun reads the usable replies from the cache and asks again only for the unusable one (never cached).
    assert run_cli(judge_argv(server, predictions)) == 1
    assert len(server.requests) == 4
    assert json.loads((tmp_path / "pred.report.json").read_text())["per_dimension"] == report["per_dimension"]
    assert "1 request(s), 2 from the cache" in capsys.readouterr().out


def test_reply_that_is_not_a_completion_is_reported_and_not_cached(server, tmp_path):
    predictions = tmp_path / "pred.jsonl"
    write_predictions(predictions, ["A cat sleeps.", "BADJSON caption"])
    assert run_cli(judge_argv(server, predictions)) == 1
    report = json.loads((tmp_path / "pred.report.json").read_text())
    assert report["count"] == 1 and report["errors"][0]["id"] == 1
    assert "did not return a chat completion" in report["errors"][0]["error"]
    assert run_cli(judge_argv(server, predictions)) == 1
    assert len(server.requests) == 3  # only the failed item is asked again


def test_garbage_body_is_retried_like_a_transient_failure(server, tmp_path):
    predictions = tmp_path / "pred.jsonl"
    write_predictions(predictions, ["BADJSON caption"])
    argv = judge_argv(server, predictions)
    argv[argv.index("--judge-retries") + 1] = "2"
    assert run_cli(argv + ["--no-plot"]) == 1
    assert len(server.requests) == 3  # the first try and 2 retries


class FirstGarbageThenGoodJudge(BaseHTTPRequestHandler):
    """Per reference caption, the first answers are unusable: a 200 with an HTML body, then a reply with a score
    above 5, then a reply without scores; later answers are good."""

    BAD = [
        (200, b"<html>gateway hiccup</html>"),
        (200, json.dumps({"choices": [{"message": {"content": GOOD_REPLY.replace(": 4", ": 7")}}]}).encode()),
        (200, json.dumps({"choices": [{"message": {"content": "I would rather not grade this."}}]}).encode()),
    ]

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        user = body["messages"][-1]["content"]
        with self.server.lock:
            seen = self.server.seen.get(user, 0)
            self.server.seen[user] = seen + 1
            self.server.requests.append(user)
        status, payload = (
            self.BAD[seen]
            if seen < len(self.BAD)
            else (200, json.dumps({"choices": [{"message": {"content": GOOD_REPLY}}]}).encode())
        )
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def flaky_server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FirstGarbageThenGoodJudge)
    httpd.requests, httpd.seen, httpd.lock = [], {}, threading.Lock()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    httpd.base_url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_unusable_replies_are_not_cached_and_a_rescore_scores_every_item(flaky_server, tmp_path, capsys):
    predictions = tmp_path / "pred.jsonl"
    write_predictions(predictions, ["A lion cub rests.", "A dog runs.", "A cat sleeps."])
    # no retries: each item gets one unusable reply per run; nothing of it may be cached
    assert run_cli(judge_argv(flaky_server, predictions, "--no-plot")) == 1
    report = json.loads((tmp_path / "pred.report.json").read_text())
    assert report["count"] == 0 and report["overall"] is None and report["not_scored"] == 3
    assert not list((tmp_path / "pred.judge-cache").glob("*.json"))
    assert run_cli(judge_argv(flaky_server, predictions, "--no-plot")) == 1  # the score above 5: still unusable
    assert not list((tmp_path / "pred.judge-cache").glob("*.json"))
    capsys.readouterr()
    # with retries, the rescore gets past the last unusable reply: every item ends scored (and cached)
    argv = judge_argv(flaky_server, predictions, "--no-plot")
    argv[argv.index("--judge-retries") + 1] = "3"
    assert run_cli(argv) == 0
    report = json.loads((tmp_path / "pred.report.json").read_text())
    assert report["count"] == 3 and report["not_scored"] == 0 and report["complete"] is True
    assert report["overall"] == 3.5
    assert len(list((tmp_path / "pred.judge-cache").glob("*.json"))) == 3
    assert len(flaky_server.requests) == 3 * 4
    assert run_cli(judge_argv(flaky_server, predictions, "--no-plot")) == 0  # all from the cache now
    assert len(flaky_server.requests) == 3 * 4


def test_unreachable_judge_is_an_outage_not_a_zero(tmp_path, capsys):
    import socket

    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    predictions = tmp_path / "pred.jsonl"
    write_predictions(predictions, ["A lion cub rests.", "A dog runs."])
    argv = ["eval", "bench-d-score", str(predictions), "--judge-base-url", f"http://127.0.0.1:{port}/v1",
            "--judge-model", "fake-judge", "--judge-retries", "0", "--no-progress"]
    assert run_cli(argv) == 1
    captured = capsys.readouterr()
    assert "0.00" not in captured.out
    assert "VideoRefer-Bench-D (single-frame masks, 8 frames, 0 scored, 2 not scored)" in captured.out
    overall = next(line for line in captured.out.splitlines() if line.startswith("Overall"))
    assert "not scored" in overall and "3.42" in overall
    assert "INCOMPLETE: 2 of 2 item(s) not scored" in captured.out
    assert captured.err == (
        "videorefer eval bench-d-score: incomplete: 2 of 2 item(s) not scored (no usable judge reply); rerun the "
        "same command to ask the judge again for them.\n"
    )
    report = json.loads((tmp_path / "pred.report.json").read_text())
    assert report["overall"] is None and report["count"] == 0 and report["not_scored"] == 2
    assert report["complete"] is False and not (tmp_path / "pred.png").exists()


def test_wrong_endpoint_stops_the_run(server, tmp_path, capsys):
    predictions = tmp_path / "pred.jsonl"
    write_predictions(predictions, ["A cat sleeps."])
    argv = judge_argv(server, predictions)
    argv[argv.index(server.base_url)] = server.base_url + "/wrong"
    assert run_cli(argv) == 2
    assert "HTTP 404" in capsys.readouterr().err


def test_client_retries_server_errors(server):
    calls = []

    class Flaky(JudgeClient):
        def _request(self, messages):
            calls.append(1)
            if len(calls) < 3:
                raise ConnectionError("reset")
            return super()._request(messages)

    client = Flaky(base_url=server.base_url, model="fake", max_retries=3, retry_wait=0.0)
    assert client.complete(judge_messages("ref", "pred")) == GOOD_REPLY
    assert len(calls) == 3


# --------------------------------------------------------------------------------------------- end to end
def test_bench_d_load_and_prompts(tmp_path):
    questions = make_mini_bench_d(tmp_path)
    items = load_bench_d(questions, "single")
    samples = bench_d_samples(items, resolve_media(items, tmp_path), "single")
    assert [s.id for s in samples] == [100, 101, 102]
    assert samples[0].prompt == DESCRIPTION_PROMPT and [list(o) for o in samples[0].objects] == [["3"]]
    multi = bench_d_samples(items, resolve_media(items, tmp_path), "multi")
    assert [list(o) for o in multi[0].objects] == [["0", "3", "6", "9"]]


def test_bench_d_end_to_end(golden_checkpoint, server, tmp_path, capsys):
    questions = make_mini_bench_d(tmp_path / "panda")
    output = tmp_path / "out" / "pred.jsonl"
    argv = [
        "eval", "bench-d", "--model", str(golden_checkpoint), "--questions", str(questions),
        "--video-root", str(tmp_path / "panda"), "--mode", "multi", "--output", str(output), "--batch-size", "3",
        "--max-new-tokens", "4", "--device", "cpu", "--judge-base-url", server.base_url, "--judge-model", "fake",
        "--no-progress",
    ]
    assert run_cli(argv) == 0
    lines = read_predictions(output)
    assert [line["id"] for line in lines] == [100, 101, 102]
    assert all({"video", "caption", "pred"} <= set(line) and line["mode"] == "multi" for line in lines)
    report = json.loads((tmp_path / "out" / "pred.report.json").read_text())
    assert report["count"] == 3 and report["overall"] == 3.5 and report["settings"]["num_frames"] == 8
    assert len(server.requests) == 3
    assert "VideoRefer-Bench-D" in capsys.readouterr().out
    assert run_cli(argv) == 0  # nothing left to describe, every judgement cached
    assert len(server.requests) == 3 and len(read_predictions(output)) == 3
