"""glance: a fast, standalone image service speaking the OpenStack Images API."""

__version__ = "0.1.0"
