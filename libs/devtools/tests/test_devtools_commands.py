"""The developer commands: publish sends a file's bytes as they are; service finds the stack."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from switchboard_devtools import __main__ as devtools
from switchboard_devtools import stack
from switchboard_devtools.publish import publish, read_records, subject_of
from switchboard_devtools.services import command as service_command
from switchboard_devtools.services import service_env, services
from switchboard_runtime import kafka
from switchboard_runtime.auth import Authenticator, Scope, new_token
from switchboard_runtime.settings import KafkaSettings, ServiceSettings
from switchboard_runtime.testing.kafka import read_topic

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "samples"
SAMPLE_FILES = sorted(p for p in SAMPLES.rglob("*") if p.is_file())


def test_every_sample_file_is_one_record_of_its_exact_bytes() -> None:
    assert any(p.parent.name == "invalid" for p in SAMPLE_FILES)
    for path in SAMPLE_FILES:
        assert read_records(path) == [path.read_bytes()], path.name


def test_json_lines_are_one_record_per_line(tmp_path: Path) -> None:
    lines = [b'{"subject": "c1"}', b'{"subject": "c2"}', b"not json"]
    jsonl = tmp_path / "events.jsonl"
    jsonl.write_bytes(b"\n".join(lines) + b"\n\n")
    assert read_records(jsonl) == lines, "a .jsonl file: one record per line, whatever it holds"
    untyped = tmp_path / "events.json"
    untyped.write_bytes(b"\n".join(lines[:2]) + b"\n")
    assert read_records(untyped) == lines[:2], "every line JSON: JSON Lines"
    mixed = tmp_path / "mixed.json"
    mixed.write_bytes(b"\n".join(lines))
    assert read_records(mixed) == [mixed.read_bytes()], "anything else: one raw record"


def test_the_key_is_the_subject_as_far_as_the_bytes_show_it() -> None:
    assert subject_of(b'{"subject": "c-1", "id": "e"}') == "c-1"
    assert subject_of(b'{"id": "e", "subject": "c-\\u00e9", "data": {"x": 1,}') == "c-\u00e9"
    assert subject_of(b'{"subject": 5}') is None
    assert subject_of(b"[1, 2]") is None
    assert subject_of(b'\xff{"id": "e"}') is None


@pytest.mark.integration
async def test_publishing_every_sample_delivers_its_bytes_unchanged(
    kafka_settings: KafkaSettings, topic_suffix: str
) -> None:
    topic = f"devtools.samples{topic_suffix}"
    await kafka.create_topics(kafka_settings, [topic])
    for path in SAMPLE_FILES:
        assert await publish(kafka_settings, topic, path) == 1, path.name
    found = await read_topic(kafka_settings, topic, len(SAMPLE_FILES))
    expected = Counter((_key(p.read_bytes()), p.read_bytes()) for p in SAMPLE_FILES)
    assert Counter((m.key, m.value) for m in found) == expected
    assert len(found) == len(SAMPLE_FILES)


def _key(content: bytes) -> bytes | None:
    subject = subject_of(content)
    return subject.encode() if subject is not None else None


@pytest.mark.integration
async def test_publish_takes_a_key_and_reports_an_unreachable_broker(
    kafka_settings: KafkaSettings,
    topic_suffix: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    topic = f"devtools.keyed{topic_suffix}"
    await kafka.create_topics(kafka_settings, [topic])
    raw = tmp_path / "raw.bin"
    raw.write_bytes(b"\x00\x01 not an event")
    args = ["publish", topic, str(raw), "--bootstrap", kafka_settings.bootstrap]
    assert await asyncio.to_thread(devtools.main, [*args, "--key", "contact-7"]) == 0
    [message] = await read_topic(kafka_settings, topic, 1)
    assert (message.key, message.value) == (b"contact-7", raw.read_bytes())
    capsys.readouterr()

    unreachable = ["publish", topic, str(raw), "--bootstrap", "127.0.0.1:1"]
    assert await asyncio.to_thread(devtools.main, unreachable) == 2
    assert capsys.readouterr().err.splitlines() == [
        "cannot reach the broker at 127.0.0.1:1: is `make run` running?"
    ]


@pytest.mark.integration
async def test_service_runs_a_command_against_the_running_stack(
    database_url: str,
    kafka_settings: KafkaSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`make import FILE=...` next to `make run`: the import reaches the stack's database."""
    state = tmp_path / "stack.json"
    state.write_text(json.dumps({"bootstrap": kafka_settings.bootstrap, "database": database_url}))
    monkeypatch.setattr(stack, "STATE_FILE", state)
    customers = tmp_path / "customers.jsonl"
    customers.write_text(json.dumps({"customer_id": "cust-dev-1", "tier": "standard"}) + "\n")
    args = ["service", "profile-lookup", "import", str(customers)]
    assert await asyncio.to_thread(devtools.main, args) == 0
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            found = await conn.scalar(text("SELECT customer_id FROM profiles.customers"))
    finally:
        await engine.dispose()
    assert found == "cust-dev-1"


def test_without_a_running_stack_service_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack, "STATE_FILE", tmp_path / "missing.json")
    with pytest.raises(SystemExit, match=r"no `make run` is running"):
        devtools.main(["service", "router", "migrate"])


def test_tail_and_publish_read_the_kafka_settings_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(stack, "STATE_FILE", tmp_path / "missing.json")
    monkeypatch.setenv("KAFKA__SECURITY_PROTOCOL", "SASL_SSL-typo")
    for command in (["tail", "t"], ["publish", "t", str(SAMPLE_FILES[0])]):
        assert devtools.main([*command, "--bootstrap", "127.0.0.1:1"]) == 2
        assert "KAFKA__SECURITY_PROTOCOL: String should match" in capsys.readouterr().err
    # Without --bootstrap and `make run`, KAFKA__BOOTSTRAP names the broker.
    monkeypatch.setenv("KAFKA__SECURITY_PROTOCOL", "PLAINTEXT")
    monkeypatch.setenv("KAFKA__BOOTSTRAP", "127.0.0.1:1")
    assert devtools.main(["publish", "t", str(SAMPLE_FILES[0])]) == 2
    assert "cannot reach the broker at 127.0.0.1:1" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("goal", "expected"),
    [
        (["tail", "TOPIC=sla.alerts", "FROM_START=1"], "tail sla.alerts --from-start"),
        (["publish", "TOPIC=t", "FILE=f.json", "KEY=c-1"], "publish t f.json --key 'c-1'"),
        (["import", "FILE=customers.csv"], "service profile-lookup import customers.csv"),
    ],
)
def test_make_passes_the_options_on(goal: list[str], expected: str) -> None:
    repo = Path(__file__).resolve().parents[3]
    shown = subprocess.run(
        ["make", "--no-print-directory", "-n", "-C", str(repo), *goal],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"-m switchboard_devtools {expected}" in shown


async def test_make_run_gives_every_service_the_token_it_prints(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token, digest = new_token()
    for spec in services():
        env = service_env(spec, "postgresql+asyncpg://x@db/x", "broker:9092", digest)
        for name, value in env.items():
            monkeypatch.setenv(name, value)

    class Settings(ServiceSettings):
        model_config = {"env_prefix": "ROUTER_", "env_nested_delimiter": "__"}

    principal = await Authenticator(Settings().auth).authenticate(token)
    assert principal.name == "make-run"
    assert principal.scopes == frozenset(Scope)


def test_make_run_starts_every_installed_service_with_serve() -> None:
    specs = services()
    assert [s.name for s in specs] == ["profile-lookup", "router", "sla-monitor"]
    for spec in specs:
        assert service_command(spec)[1:] == ["-m", spec.package, "serve"]
        assert service_command(spec, "import", "x.csv")[1:] == [
            "-m",
            spec.package,
            "import",
            "x.csv",
        ]
