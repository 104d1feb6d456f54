"""Environment overrides of the list of tables `[[streams]]`: `GATEKEEPER_STREAMS` holds the
whole list as a TOML array of inline tables and replaces the file's; a variable naming a
key inside it (`GATEKEEPER_STREAMS__SENDER`) is a config error naming the variable, since
no single stream is meant."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import ConfigError, Stream, load_config

GATEKEEPER = str(Path(sys.executable).parent / "gatekeeper")
STREAMS_FILE = '[[streams]]\nsender = "news@shop.example"\npurpose = "marketing"\n'


@pytest.fixture
def config_with_streams(tmp_path: Path) -> Path:
    path = tmp_path / "gatekeeper.toml"
    path.write_text(STREAMS_FILE)
    return path


def test_a_key_inside_the_list_is_a_config_error_naming_the_variable(config_with_streams):
    environ = {"GATEKEEPER_STREAMS__PURPOSE": "survey"}
    with pytest.raises(ConfigError, match="GATEKEEPER_STREAMS__PURPOSE") as caught:
        load_config(str(config_with_streams), environ=environ)
    assert "GATEKEEPER_STREAMS" in str(caught.value) and "array" in str(caught.value)


def test_without_streams_in_the_file_too(tmp_path):
    with pytest.raises(ConfigError, match="GATEKEEPER_STREAMS__SENDER"):
        load_config(None, environ={"GATEKEEPER_STREAMS__SENDER": "a@b.example"})


def test_the_whole_list_replaces_the_files(config_with_streams):
    environ = {
        "GATEKEEPER_STREAMS": '[{sender = "*@survey.example", purpose = "survey", '
        'topic = "nps"}, {sender = "billing@shop.example", purpose = "transactional"}]'
    }
    config = load_config(str(config_with_streams), environ=environ)
    assert config.streams == [
        Stream("*@survey.example", "survey", "nps"),
        Stream("billing@shop.example", "transactional"),
    ]
    assert load_config(None, environ={"GATEKEEPER_STREAMS": "[]"}).streams == []


@pytest.mark.parametrize(
    "value", ['"news@shop.example"', "[1, 2]", "[{sender = 1}]", '[{sender = "a@b.example"}]']
)
def test_a_bad_list_is_a_config_error(config_with_streams, value):
    with pytest.raises(ConfigError, match="streams"):
        load_config(str(config_with_streams), environ={"GATEKEEPER_STREAMS": value})


def test_a_bad_purpose_in_the_variable_is_named(config_with_streams):
    environ = {"GATEKEEPER_STREAMS": '[{sender = "a@b.example", purpose = "spam"}]'}
    with pytest.raises(ConfigError, match=r"streams\[0\].purpose 'spam'"):
        load_config(str(config_with_streams), environ=environ)


def test_the_command_line_prints_one_line(config_with_streams):
    env = {"PATH": "/usr/bin:/bin", "GATEKEEPER_STREAMS__PURPOSE": "survey"}
    result = subprocess.run(
        [GATEKEEPER, "policy", "lint", "--config", str(config_with_streams)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("gatekeeper: ") and "GATEKEEPER_STREAMS__PURPOSE" in line


def test_a_table_without_a_required_key_is_a_config_error(tmp_path):
    """Before: Stream(**values) raised TypeError (a traceback) for a stream without purpose."""
    path = tmp_path / "gatekeeper.toml"
    path.write_text('[[streams]]\nsender = "news@shop.example"\n')
    with pytest.raises(ConfigError, match=r"'streams\[0\].purpose' is required"):
        load_config(str(path), environ={})
    path.write_text('[[smtp.users]]\nname = "app"\n')
    with pytest.raises(ConfigError, match=r"'smtp.users\[0\].password_hash' is required"):
        load_config(str(path), environ={})
