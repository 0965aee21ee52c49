"""deploy/kafka/acls.sh is what the service records give (its effect on Apache Kafka is
tested in libs/runtime/tests/test_acls_kafka.py)."""

from pathlib import Path

from switchboard_events.topics import VENDOR_DECISIONS_PREFIX
from switchboard_runtime.acls import script, service_acls
from switchboard_runtime.service import find, registered

ACLS = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "acls.sh"


def test_the_shipped_script_is_the_generated_one() -> None:
    assert ACLS.read_text() == script(registered(), VENDOR_DECISIONS_PREFIX), (
        "deploy/kafka/acls.sh is stale: run"
        " `.venv/bin/python -m switchboard_runtime.acls > deploy/kafka/acls.sh`"
    )


def test_the_router_may_create_vendor_topics_and_write_no_contacts_topic() -> None:
    acls = service_acls(find("router"))
    vendor = [a for a in acls if a.prefixed]
    assert [(a.name, a.operations) for a in vendor] == [
        (VENDOR_DECISIONS_PREFIX, ("Write", "Describe", "Create"))
    ]
    written = {a.name for a in acls if "Write" in a.operations and not a.prefixed}
    assert written == {"routing.decisions", "contacts.enriched.dlq", "contacts.lifecycle.dlq"}
