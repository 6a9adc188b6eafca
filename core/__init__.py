"""oss-connect core: the app factory, configuration, plugin manager, data model and journeys."""

__version__ = "0.1.0"
