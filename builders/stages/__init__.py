"""Shared stages of a build, in data-flow order: read, parse, normalize, validate, dedup, ids, write."""
