"""The human teacher's page and API: answers saved as given, resumed after a restart."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import torch

from leapfactual.audit.teacher_server import HumanTeacher, ServerHandle, read_labels, serve
from leapfactual.audit.teachers import TeacherQueue

from ..report.browser import FLAGS, chromium

NAMES = ("zero", "one", "two", "three")
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy for 127.0.0.1


def tiny_queue(channels: int = 1, needed: bool = False) -> TeacherQueue:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(3, channels, 8, 8, generator=gen)
    x_cf = torch.rand(3, channels, 8, 8, generator=gen)
    source, target = torch.tensor([0, 2, 3]), torch.tensor([1, 3, 0])
    change = (x_cf - x).abs().mean(1, keepdim=True) if needed else None
    return TeacherQueue(x, x_cf, source, target, NAMES, change, ids=["a", "b", "c"])


def request(url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """Status and JSON reply of a GET (``body`` None) or a JSON POST."""
    data = (
        None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    )
    head = {"Content-Type": "application/json"} if body is not None else {}
    req = urllib.request.Request(url, data, {**head, **(headers or {})})
    try:
        with OPENER.open(req, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def api(handle: ServerHandle, endpoint: str, body: Any = None) -> tuple[int, Any]:
    """A request to the handle's API carrying its session token."""
    return request(handle.base + "api/" + endpoint, body, {"X-Leapfactual-Token": handle.token})


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_page_is_labelled_with_the_keyboard_and_resumes_after_a_restart(tmp_path) -> None:
    from playwright import sync_api

    executable = chromium()
    queue, answers = tiny_queue(), tmp_path / "answers.jsonl"
    handle = serve(queue, answers)
    port = int(handle.base.rsplit(":", 1)[1].strip("/"))
    with sync_api.sync_playwright() as p:
        args = [flag for flag in FLAGS if flag != "--headless"]
        browser = p.chromium.launch(executable_path=executable, args=args)
        try:
            page = browser.new_page()
            page.set_default_timeout(5000)
            progress = sync_api.expect(page.locator("#progress"))
            page.goto(handle.url)
            progress.to_have_text("1 / 3")
            page.wait_for_function(
                "[...document.images].length === 3 && "
                "[...document.images].every(i => i.complete && i.naturalWidth > 0)"
            )
            assert page.evaluate("[...document.images].map(i => i.naturalWidth)") == [8, 8, 8]
            page.keyboard.press("1")
            page.keyboard.press("s")
            progress.to_have_text("3 / 3")
            saved = lines(answers)  # on disk before anything else happens
            assert [(r["id"], r["label"], r["kind"]) for r in saved] == [
                ("a", 1, "label"),
                ("b", 2, "shortcut"),  # a shortcut keeps the source class
            ]
            handle.stop()
            page.keyboard.press("t")  # the server is gone: refused, nothing written
            sync_api.expect(page.locator("#status")).to_contain_text("not saved")
            assert len(lines(answers)) == 2
            handle = serve(queue, answers, port=port)
            page.reload()  # the old session's link and cookie no longer open the page
            assert "needs the link printed" in (page.text_content("body") or "")
            page.goto(handle.url)
            progress.to_have_text("3 / 3")
            page.keyboard.press("t")
            progress.to_have_text("done · 3 / 3")
        finally:
            browser.close()
            handle.stop()
    assert read_labels(queue, answers).tolist() == [1, 2, 0]
    assert HumanTeacher(answers).label(queue, wait=False).tolist() == [1, 2, 0]


def test_bad_requests_get_400_and_the_server_keeps_going(tmp_path) -> None:
    answers = tmp_path / "answers.jsonl"
    with serve(tiny_queue(), answers) as handle:
        token = {"X-Leapfactual-Token": handle.token}
        bad = [
            ({"id": "a", "label": 4}, r"label must be a class index in \[0, 4\), got 4"),
            ({"id": "a", "label": True}, "label must be a class index"),
            ({"id": "a"}, "got None"),
            ({"id": "zz", "label": 1}, "unknown item id 'zz'"),
            ({"id": "a", "kind": "maybe"}, "unknown answer kind 'maybe'"),
            ({"id": "a", "kind": "undo"}, "POST /api/undo"),
            ([1, 2], "a JSON object"),
            (b"{not json", "not JSON"),
        ]
        for body, message in bad:
            code, reply = api(handle, "answer", body)
            assert code == 400 and re.search(message, reply["error"]), (body, reply)
        head = {"Content-Type": "text/plain", **token}
        code, reply = request(handle.base + "api/answer", b"{}", head)
        assert code == 400 and "Content-Type: application/json" in reply["error"]
        assert api(handle, "nothing")[0] == 404
        evil = {"Host": "evil.example:80", **token}
        assert request(handle.base + "api/item", headers=evil)[0] == 403
        assert not answers.exists()
        code, state = api(handle, "item")
        assert code == 200 and state["position"] == 1 and state["item"]["id"] == "a"
        assert set(state["item"]["images"]) == {"input", "ce", "change"}
        assert state["item"]["width"] == 8 * 32  # enlarged for display


def test_undo_and_later_answers_win_across_restarts(tmp_path) -> None:
    queue, answers = tiny_queue(channels=3, needed=True), tmp_path / "deep" / "answers.jsonl"
    with serve(queue, answers) as handle:
        assert api(handle, "answer", {"id": "a", "label": 3})[1]["position"] == 2
        state = api(handle, "answer", {"id": "b", "kind": "target"})[1]
        assert state["last"] == {"id": "b", "label": 3, "kind": "target"}
        state = api(handle, "undo", {})[1]
        assert state["position"] == 2 and state["answered"] == 1
        api(handle, "answer", {"id": "a", "label": 2})  # a later answer for a wins
        assert handle.labels().tolist() == [2, -1, -1] and not handle.done
    assert [r["kind"] for r in lines(answers)] == ["label", "target", "undo", "label"]
    with serve(queue, answers) as handle:
        state = api(handle, "item")[1]
        assert state["position"] == 2 and state["answered"] == 1


def test_a_torn_last_line_is_skipped_and_the_file_stays_readable(tmp_path) -> None:
    queue, answers = tiny_queue(), tmp_path / "answers.jsonl"
    answers.write_text('{"id": "a", "label": 1, "kind": "label"}\n{"id": "b", "lab')
    with pytest.warns(UserWarning, match="answers.jsonl:2: skipped"), serve(queue, answers) as h:
        api(h, "answer", {"id": "b", "kind": "shortcut"})
    with pytest.warns(UserWarning, match="answers.jsonl:2: skipped"):
        assert read_labels(queue, answers).tolist() == [1, 2, -1]
    answers.write_text('{"id": "c", "label": 9, "kind": "label"}\n')
    with pytest.raises(ValueError, match=r"answers.jsonl:1: label must be .* got 9"):
        read_labels(queue, answers)


def test_label_blocks_until_every_item_has_an_answer(tmp_path, capsys, caplog) -> None:
    """The address is a WARNING of the library's logger (shown without any set-up); nothing
    is printed."""
    queue, answers = tiny_queue(), tmp_path / "answers.jsonl"
    result: dict[str, torch.Tensor] = {}
    thread = threading.Thread(target=lambda: result.update(y=HumanTeacher(answers).label(queue)))
    thread.start()
    deadline, printed = time.monotonic() + 10, ""
    while "http://" not in printed and time.monotonic() < deadline:
        time.sleep(0.02)
        printed = " ".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert caplog.records[0].name == "leapfactual.audit.teacher_server"
    assert capsys.readouterr().out == ""
    url = re.search(r"(http://127\.0\.0\.1:\d+/)\?token=([\w-]+)", printed)
    assert url, printed
    for item, kind in (("a", "shortcut"), ("b", "target"), ("c", "target")):
        answer = {"id": item, "kind": kind}
        request(url.group(1) + "api/answer?token=" + url.group(2), answer)
    thread.join(10)
    assert result["y"].tolist() == [0, 3, 0]
    assert HumanTeacher(answers).label(queue).tolist() == [0, 3, 0]  # all known: no serving


def test_only_localhost_and_showable_images(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"listens on 127\.0\.0\.1 only"):
        HumanTeacher(tmp_path / "a.jsonl", host="0.0.0.0")
    with pytest.raises(ValueError, match=r"listens on 127\.0\.0\.1 only"):
        serve(tiny_queue(), tmp_path / "a.jsonl", host="localhost")
    with pytest.raises(ValueError, match="1 or 3 channels, got 2"):
        serve(tiny_queue(channels=2), tmp_path / "a.jsonl")


def test_every_request_needs_the_session_token(tmp_path) -> None:
    answers = tmp_path / "answers.jsonl"
    with serve(tiny_queue(), answers) as handle, serve(tiny_queue(), answers) as other:
        assert handle.token != other.token and len(handle.token) >= 32
        refused = [
            request(handle.base),
            request(handle.base + "api/item"),
            request(handle.base + "api/answer", {"id": "a", "label": 1}),
            request(handle.base + "api/item", headers={"X-Leapfactual-Token": "guess"}),
            request(handle.base + "api/item?token=" + other.token),
            request(
                handle.base + "api/item",
                headers={"Cookie": f"leapfactual_teacher_1={handle.token}"},  # another port's
            ),
        ]
        for code, reply in refused:
            assert code == 403 and "needs the link printed" in reply["error"]
        assert not answers.exists()  # nothing written without the token
        with OPENER.open(handle.url, timeout=10) as reply:  # the printed link opens the page
            assert reply.status == 200
            cookie = reply.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        name_value = cookie.split(";", 1)[0]
        assert request(handle.base + "api/item", headers={"Cookie": name_value})[0] == 200
        assert api(handle, "answer", {"id": "a", "label": 1})[0] == 200
