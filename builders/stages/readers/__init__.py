"""Read stage: find raw artifacts, detect their encoding, and turn them into records."""
