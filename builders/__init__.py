"""Build, validate, version and publish the Chinese Values Corpus (Beijing-AISI/CVC)."""

import os

# Polars' allocator (jemalloc) keeps freed pages for seconds by default: the rules build's frames then
# stayed resident while the dilemmas were read, and a full build's processes peaked at 3.2–3.75 GB
# instead of 2.8 GB. Read when Polars loads, so set before anything imports it; a caller's own wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "background_thread:true,dirty_decay_ms:0,muzzy_decay_ms:0")

__version__ = "0.1.0"
