"""The runner places keyed records where Kafka's Java client and aiokafka's `send()` do."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from switchboard_runtime.partitioning import murmur2, partition_for

# Kafka's own cases (clients' UtilsTest.testMurmur2), as the signed ints Java prints.
JAVA_CASES = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize(("key", "java"), JAVA_CASES.items())
def test_the_hash_is_the_java_clients(key: bytes, java: int) -> None:
    assert murmur2(key) == java % 2**32


@given(
    key=st.binary(max_size=200),
    count=st.integers(min_value=1, max_value=1024),
)
def test_a_keyed_record_goes_where_aiokafka_sends_it(key: bytes, count: int) -> None:
    partitions = list(range(count))
    assert partition_for(key, partitions) == DefaultPartitioner()(key, partitions, partitions)


def test_a_record_without_a_key_goes_to_one_of_the_partitions() -> None:
    assert {partition_for(None, [3, 4, 5]) for _ in range(200)} == {3, 4, 5}
