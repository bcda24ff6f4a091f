"""Build, validate, version and publish the Chinese Values Corpus (Beijing-AISI/CVC)."""

import os

# Polars' allocator (jemalloc) keeps freed pages for seconds by default: the rules build's frames then
# stayed resident while the dilemmas were read, and a full build's processes peaked at 3.2–3.75 GB
# instead of 2.8 GB. Freed pages go back after a second: giving them back at once (decay 0) made every
# new frame fault its pages in again, and cost the full-size rules-only build 9% of its wall time and the
# all-configs build 7–14%, for a peak 8% lower (2.2–2.3 GB against 2.4–2.45 GB; benchmarks/README.md).
# Read when Polars loads, so set before anything imports it; a caller's own wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:1000")

__version__ = "0.1.0"
