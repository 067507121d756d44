"""Client set-up that matters for throughput."""

from __future__ import annotations


def test_kafka_python_checks_record_batches_with_the_c_crc32c():
    """Without the ``crc32c`` package kafka-python computes CRC32C in Python: ~15 ms per 100 KB each way."""
    from kafka.record import util

    assert util.crc32c_c is not None
    assert util.calc_crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
