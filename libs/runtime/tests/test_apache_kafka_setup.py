"""Finding Java and the Kafka jars, and what is said when one is missing (no broker runs)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from switchboard_runtime.apache_kafka import (
    DATA_PREFIX,
    cluster_id,
    find_distribution,
    find_java,
    pom_version,
    remove_stale_data,
)
from switchboard_runtime.embedded import EmbeddedError

REPO = Path(__file__).resolve().parents[3]
POM = REPO / "deploy" / "kafka" / "pom.xml"


def fake_java(directory: Path, version: str) -> Path:
    """A `java` that only answers `-version`, on stderr as the real one does."""
    directory.mkdir(parents=True, exist_ok=True)
    java = directory / "java"
    java.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\" 2025-04-15' >&2\n")
    java.chmod(0o755)
    return java


@pytest.fixture
def bare_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH with nothing on it but what the test puts there; no JAVA_HOME or KAFKA_HOME."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.delenv("KAFKA_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return bin_dir


def test_no_java_is_named(bare_path: Path) -> None:
    with pytest.raises(EmbeddedError, match=r"needs Java 17\+: no `java` on PATH and no JAVA_HOME"):
        find_java()


def test_an_old_java_is_refused(bare_path: Path) -> None:
    fake_java(bare_path, "11.0.2")
    with pytest.raises(EmbeddedError, match="is Java 11"):
        find_java()
    fake_java(bare_path, "1.8.0_402")
    with pytest.raises(EmbeddedError, match="is Java 8"):
        find_java()


def test_java_home_wins_over_path(
    bare_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_java(bare_path, "11.0.2")
    home_java = fake_java(tmp_path / "jdk" / "bin", "21.0.1")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    assert find_java() == home_java


def test_without_cached_jars_maven_is_needed(bare_path: Path) -> None:
    fake_java(bare_path, "17.0.15")
    with pytest.raises(EmbeddedError, match=r"Maven \(`mvn`\) is not on PATH.*KAFKA_HOME"):
        find_distribution(POM)


def test_kafka_home_is_an_unpacked_distribution(
    bare_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_java(bare_path, "17.0.15")
    home = tmp_path / "kafka_2.13-4.1.0"
    monkeypatch.setenv("KAFKA_HOME", str(home))
    with pytest.raises(EmbeddedError, match="not an unpacked Apache Kafka"):
        find_distribution(POM)
    (home / "libs").mkdir(parents=True)
    for jar in ("kafka_2.13-4.1.0-test.jar", "kafka_2.13-4.1.0.jar", "kafka-clients-4.1.0.jar"):
        (home / "libs" / jar).touch()
    found = find_distribution(POM)  # no Maven needed
    assert (found.libs, found.version) == (home / "libs", "4.1.0")


def test_the_pinned_version_is_the_compose_image() -> None:
    compose = (REPO / "docker-compose.yml").read_text()
    images = set(re.findall(r"image: apache/kafka:(\S+)", compose))
    assert images == {pom_version(POM)}


def test_data_of_a_dead_harness_is_removed(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale = tmp_path / f"{DATA_PREFIX}{dead.stdout.strip()}-abc"
    live = tmp_path / f"{DATA_PREFIX}{os.getpid()}-def"
    for path in (stale, live):
        (path / "node-1").mkdir(parents=True)
    remove_stale_data(tmp_path)
    assert not stale.exists()
    assert live.exists()


def test_the_kafka_suite_stops_at_once_without_java(bare_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--broker=kafka",
            "-p",
            "no:cacheprovider",
            str(Path(__file__).parent / "test_web.py"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=dict(os.environ),
        timeout=120,
        check=False,
    )
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert "--broker=kafka: Apache Kafka needs Java 17+" in result.stderr


def test_cluster_ids_never_look_like_an_option() -> None:
    # One id in 64 would start with "-", and kafka-storage format then refused it.
    ids = [cluster_id() for _ in range(2000)]
    assert all(len(i) == 22 for i in ids)
    assert not [i for i in ids if i.startswith("-")]
