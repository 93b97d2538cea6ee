"""``sijil desk user enrol`` and ``sijil desk serve``, as an operator runs them."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import httpx
import pytest

from conftest import PASSPHRASE, CliResult
from sijil.desk.accounts import start_enrolment
from sijil.errors import SignInRefused
from sijil.store.models_desk import Role
from web_helpers import WebDesk

# the server must answer within this; longer is a failure, not a slow start
START_DEADLINE_S = 30.0
CODE = re.compile(r"\b([A-Z2-9]{4}(?:-[A-Z2-9]{4}){4})\b")


def test_user_enrol_prints_a_code_that_opens_enrolment_once(
    make_web: Callable[..., WebDesk], run_cli: Callable[..., CliResult], store_url: str
) -> None:
    web = make_web(store_url)
    web.add("dima", Role.EDITOR)
    # When an admin asks for dima's code
    done = run_cli("desk", "user", "enrol", "dima", "--as", "root", *web.desk.args)
    assert done.code == 0, done.err
    code = CODE.search(done.out)
    assert code, done.out
    # Then it starts dima's enrolment, and a viewer cannot ask for one
    with web.desk.home.open_store() as store:
        assert start_enrolment(store, "dima", code.group(1)).totp_secret
        with pytest.raises(SignInRefused):
            start_enrolment(store, "dima", "WRONG-CODE")
    web.add("sami", Role.VIEWER)
    refused = run_cli("desk", "user", "enrol", "dima", "--as", "sami", *web.desk.args)
    assert refused.code == 1 and "needs the admin role" in refused.err


def test_user_add_prints_the_new_users_enrolment_code(
    make_web: Callable[..., WebDesk], run_cli: Callable[..., CliResult], store_url: str
) -> None:
    web = make_web(store_url)
    # When an admin adds a user
    done = run_cli(
        "desk", "user", "add", "rana", "--role", "reviewer", "--as", "root", *web.desk.args
    )
    assert done.code == 0, done.err
    code = CODE.search(done.out)
    # Then the output carries a code that starts rana's enrolment
    assert code, done.out
    with web.desk.home.open_store() as store:
        assert start_enrolment(store, "rana", code.group(1)).totp_secret


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_desk_serve_answers_on_loopback_with_the_passphrase_from_the_environment(
    make_web: Callable[..., WebDesk],
) -> None:
    web = make_web()
    port = _free_port()
    env = {**os.environ, "SIJIL_PASSPHRASE": PASSPHRASE}
    argv = [sys.executable, "-m", "sijil.cli.main", "desk", "serve", *web.desk.args]
    server = subprocess.Popen(
        [*argv, "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + START_DEADLINE_S
        page = None
        while page is None:  # bounded by the deadline; each try waits on a real connection
            assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
            assert time.monotonic() < deadline, "sijil desk serve did not answer"
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/login", timeout=1.0)
            except httpx.TransportError:
                time.sleep(0.1)
        assert page.status_code == 200 and '<html lang="ar" dir="rtl">' in page.text
    finally:
        server.terminate()
        output = server.communicate(timeout=START_DEADLINE_S)[0].decode()
    assert "127.0.0.1:" not in output.replace(f"http://127.0.0.1:{port}/", "")
    assert PASSPHRASE not in output
