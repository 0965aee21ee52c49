"""schemathesis against every service's OpenAPI document, on the running processes.

Each operation gets generated requests, valid and invalid ones, with the admin token
and without: no answer may be a server error or a 429 (an example the rate limit kept
from its handler), and every 4xx must say what was wrong (FastAPI's JSON `detail`, or a
policy check's `problems`). The examples are bounded and derandomised, so a run takes
seconds and a failure reproduces.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from pipeline import Pipeline, topic_names
from schemathesis import GenerationMode
from schemathesis.core.result import Err
from schemathesis.schemas import APIOperation

from switchboard_demo.customers import demo_customers
from switchboard_runtime.kafka import create_topics
from switchboard_runtime.testing.plugin import Stack

pytestmark = pytest.mark.integration

SERVICES = ("profile-lookup", "router", "sla-monitor")
EXAMPLES = 25  # per operation, generation mode and token
# One token reads every customer route: a limit per token would answer most examples
# with 429 before their handler (the 429 path has its own test in
# services/profile-lookup/tests/test_profiles_audit.py).
LIMITS = {
    "profile-lookup": {
        "PROFILES_CUSTOMER_READS__PER_MINUTE": "1000000",
        "PROFILES_CUSTOMER_READS__BURST": "100000",
    }
}


@pytest.fixture(scope="module")
async def running(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Pipeline]:
    async with stack.new_database("fuzz") as database_url:
        log_dir: Path = tmp_path_factory.mktemp("fuzz")
        suffix = f".fuzz-{uuid.uuid4().hex[:8]}"
        pipeline = Pipeline(
            stack.kafka_settings(), database_url, log_dir, topic_suffix=suffix, settings=LIMITS
        )
        await create_topics(pipeline.kafka, [t + suffix for t in topic_names()])
        customers = log_dir / "customers.jsonl"
        customers.write_text("".join(json.dumps(c.to_json()) + "\n" for c in demo_customers()[:50]))
        pipeline.run_command("profile-lookup", "import", str(customers))
        try:
            for service in SERVICES:
                await asyncio.to_thread(pipeline.start, service)
            yield pipeline
        finally:
            pipeline.stop_all()


def fuzz(
    base_url: str, operation: APIOperation[Any, Any, Any, Any], token: str | None
) -> list[str]:
    """What went wrong for one operation: server errors and 4xx answers with no message."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    problems: list[str] = []
    session = requests.Session()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=operation.as_strategy(GenerationMode.POSITIVE)
        | operation.as_strategy(GenerationMode.NEGATIVE)
    )
    def check(case: schemathesis.Case[Any]) -> None:
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=10)
        where = f"{case.method} {case.formatted_path} -> {response.status_code}"
        if response.status_code >= 500:
            problems.append(f"{where}: {response.text[:200]}")
        elif response.status_code == 429:
            # The example never reached the handler: that operation was not fuzzed.
            problems.append(f"{where}: rate-limited, raise the fuzzed service's limits")
        elif response.status_code >= 400 and not _message(response.text):
            problems.append(f"{where} without a message: {response.text[:200]!r}")

    check()
    return problems


def _message(body: str) -> bool:
    """FastAPI's `detail`, or the `problems` a policy check lists."""
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    return isinstance(answer, dict) and bool(answer.get("detail") or answer.get("problems"))


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("authenticated", [True, False], ids=["token", "no-token"])
async def test_no_server_error_and_every_4xx_says_why(
    running: Pipeline, service: str, authenticated: bool
) -> None:
    base_url = f"http://127.0.0.1:{running.port(service)}"
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    results = list(schema.get_all_operations())
    invalid = [str(r.err()) for r in results if isinstance(r, Err)]
    assert not invalid, f"{service}'s OpenAPI document has invalid operations: {invalid}"
    operations = [r.ok() for r in results if not isinstance(r, Err)]
    assert len(operations) >= 3, f"{service} documents only {len(operations)} operations"
    token = running.admin_token[0] if authenticated else None
    problems = {
        op.label: found
        for op in operations
        if (found := await asyncio.to_thread(fuzz, base_url, op, token))
    }
    assert not problems, json.dumps(problems, indent=1)
