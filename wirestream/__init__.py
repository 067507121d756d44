"""wirestream: news-wire articles in, an enriched and queryable event stream out, on Apache Kafka."""

__version__ = "0.1.0"
