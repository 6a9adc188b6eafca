"""Compiled templates shared by every app built in one process.

Jinja compiles each template once per Environment, and every `create_app` makes a new Environment.
A process that builds many apps (the test suite builds one per test; the CLI one per command) would
compile the same templates again each time. Jinja's own bytecode cache keeps the compiled code,
checked against the template's source (a changed file is compiled again), so the cache only ever
saves work. Environments that compile differently (other extensions, delimiters or autoescaping)
keep apart.
"""

from __future__ import annotations

import threading

from jinja2 import BytecodeCache, Environment
from jinja2.bccache import Bucket


class ProcessBytecodeCache(BytecodeCache):
    """An in-memory jinja2 bytecode cache for every environment of this process."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def get_bucket(self, environment: Environment, name: str, filename: str | None, source: str) -> Bucket:
        """Jinja's bucket, keyed by what makes the compiled code differ between environments too."""
        key = self.get_cache_key(name, filename) + "|" + compile_fingerprint(environment)
        bucket = Bucket(environment, key, self.get_source_checksum(source))
        self.load_bytecode(bucket)
        return bucket

    def load_bytecode(self, bucket: Bucket) -> None:
        """Fill the bucket from memory (a missing or stale entry leaves it empty)."""
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        """Keep the bucket's freshly compiled code."""
        with self._lock:
            self._code[bucket.key] = bucket.bytecode_to_string()

    def clear(self) -> None:
        """Forget every compiled template."""
        with self._lock:
            self._code.clear()


def compile_fingerprint(environment: Environment) -> str:
    """What, besides the source, decides a template's compiled code."""
    autoescape = environment.autoescape
    if callable(autoescape):
        autoescape = f"{autoescape.__module__}.{getattr(autoescape, '__qualname__', autoescape)}"
    return repr((sorted(environment.extensions), autoescape, environment.block_start_string,
                 environment.block_end_string, environment.variable_start_string,
                 environment.variable_end_string, environment.comment_start_string,
                 environment.comment_end_string, environment.line_statement_prefix,
                 environment.line_comment_prefix, environment.trim_blocks, environment.lstrip_blocks,
                 environment.newline_sequence, environment.keep_trailing_newline, environment.optimized,
                 environment.is_async, getattr(environment.finalize, "__qualname__", environment.finalize)))


TEMPLATE_CACHE = ProcessBytecodeCache()
