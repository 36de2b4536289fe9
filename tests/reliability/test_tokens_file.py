"""auth_mode tokens while the tokens file is being rewritten: a half-written, invalid,
empty or missing file keeps the last good tokens in force (the server answers, never 500,
and logs one error per bad version of the file); once fixed, the new tokens work."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from glance.api.auth import add_token
from tests.conftest import RunningServer, start_server


@pytest.fixture
def tokens_server(tmp_path: Path) -> Iterator[tuple[RunningServer, Path, str]]:
    tokens_file = tmp_path / "tokens.json"
    token = add_token(str(tokens_file), "p1", "user-1", ("member",))
    server = start_server(tmp_path / "data", ["--auth-mode", "tokens",
                                              "--tokens-file", str(tokens_file)])
    yield server, tokens_file, token
    server.stop()


def status(server: RunningServer, token: str) -> int:
    return httpx.get(server.url + "/v2/images", headers={"X-Auth-Token": token},
                     timeout=30).status_code


def tokens_errors(server: RunningServer) -> list[str]:
    return [line for line in server.log().splitlines()
            if "ERROR" in line and "tokens_file" in line]


def test_a_bad_tokens_file_keeps_the_last_good_tokens(
        tokens_server: tuple[RunningServer, Path, str]) -> None:
    server, tokens_file, token = tokens_server
    assert status(server, token) == 200
    good = tokens_file.read_text()
    bad_versions = [good[:len(good) // 2],  # half written
                    '{"tokens": [1, 2]}',  # JSON, but not a tokens document
                    ""]  # truncated, about to be written
    for number, bad in enumerate(bad_versions, 1):
        tokens_file.write_text(bad)
        for _ in range(3):
            assert status(server, token) == 200
            assert status(server, "not-a-token") == 401
        assert server.process.poll() is None, server.log()
        assert len(tokens_errors(server)) == number, server.log()  # one per bad version
    tokens_file.unlink()  # missing at request time
    assert status(server, token) == 200
    assert len(tokens_errors(server)) == len(bad_versions) + 1
    assert "Traceback" not in server.log()

    # fixed: a new file with another token replaces the old tokens
    new_file = tokens_file.with_name("new.json")
    new_token = add_token(str(new_file), "p2", "user-2", ("member",))
    os.replace(new_file, tokens_file)
    assert status(server, new_token) == 200
    assert status(server, token) == 401
    assert json.loads(tokens_file.read_text())["tokens"][0]["project"] == "p2"
