"""A real single-node Apache Kafka broker (KRaft) for laptops, tests and CI.

The broker's jars come from Maven Central (``mvn dependency:copy-dependencies`` on the
``pom.xml`` beside this file) into a cache outside the checkout; storage is formatted
once with ``kafka.tools.StorageTool`` and the broker runs as ``kafka.Kafka`` in a
detached JVM whose PID is kept in a file, so ``stop`` works from any process.
"""

from wirestream.broker.local import LocalBroker

__all__ = ["LocalBroker"]
