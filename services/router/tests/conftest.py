"""Fixtures for the router's integration tests: its topics, a policy file, in-process runners."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from router.config import RouterSettings
from router.testing import policy_dict, policy_yaml
from router.testing_stack import RouterSetup, RunnerFactory, runner_factory
from switchboard_events import dlq
from switchboard_runtime import db, kafka
from switchboard_runtime.settings import KafkaSettings


@pytest.fixture
async def setup(
    kafka_settings: KafkaSettings, database_url: str, topic_suffix: str, tmp_path: Path
) -> AsyncIterator[RouterSetup]:
    policy_path = tmp_path / "routing.yaml"
    policy_path.write_text(policy_yaml(policy_dict()))
    settings = RouterSettings(
        database_url=database_url,
        kafka=kafka_settings.model_copy(update={"max_batch_records": 100}),
        topic_suffix=topic_suffix,
        consumer_group=f"router{topic_suffix}",
        policy_path=policy_path,
        policy_poll_seconds=0.1,
    )
    topics = [settings.enriched_topic, settings.lifecycle_topic, settings.decisions_topic]
    await kafka.create_topics(kafka_settings, [*topics, *map(dlq, topics[:2])])
    engine = db.make_engine(database_url)
    yield RouterSetup(settings, kafka_settings, policy_path, engine, db.make_sessionmaker(engine))
    await engine.dispose()


@pytest.fixture
def run_router(setup: RouterSetup) -> RunnerFactory:
    return runner_factory(setup)
