"""The ways a publish stops: each error's message says what happened and what to do next."""

from __future__ import annotations


class PublishError(Exception):
    """A publish that did not (fully) happen; the message says what to do next."""


class InvalidReleaseError(PublishError):
    """The release directory fails validation; nothing was sent."""


class VersionExistsError(PublishError):
    """The version's tag already exists on the Hub; tags are never overwritten."""


class VersionNotNewerError(PublishError):
    """The version is not newer than the newest version already published."""


class ConcurrentUpdateError(PublishError):
    """The branch moved after planning (HTTP 412); nothing was committed."""


class PublishVerificationError(PublishError):
    """The published version does not load back as its manifest says."""
