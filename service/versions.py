"""Which versions of a model the server serves: its version policy, resolved against the store.

``SERVING_<KEY>_VERSION_POLICY`` (Triton's words): ``latest`` (the newest only, the default), ``latest:N``
(the newest N), or ``specific:v1,v2`` (those store versions). ``SERVING_<KEY>_MODEL`` may name a version
(``name:version``): with ``latest`` that version alone is served, as before policies existed; with the
other policies it names the default version, which must be one of those served.

The main process resolves the policies once (service.service.pin_model_versions) and pins the result in
``SERVING_<KEY>_SERVED`` (the versions, newest first) and ``SERVING_<KEY>_SERVED_DEFAULT``: workers read
the pins and never look at the store's newest themselves. The user's own variables stay as they were
set, so resolving again in the main process (a reload, later) starts from them, not from old pins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import bentoml
from bentoml.exceptions import BentoMLException, NotFound

from models import SPECS
from service.loader import ModelLoadError, bentoml_home, retrain_hint
from service.settings import model_settings, model_variable

MAX_VERSIONS = 16  # each served version is a runtime (weights, a batcher, a warm-up) in every worker
VERSION = re.compile(r"[a-z0-9][a-z0-9_.-]{0,127}")  # a BentoML tag's version
POLICY_FORMS = "latest, latest:N (1 <= N <= 16) or specific:<version>,<version>,..."


class VersionPolicyError(ModelLoadError):
    """A version policy that cannot be parsed, or that contradicts SERVING_<KEY>_MODEL."""


@dataclass(frozen=True)
class VersionPolicy:
    newest: int = 1  # latest:N; 0 with an explicit list
    versions: tuple[str, ...] = ()  # specific:...


@dataclass(frozen=True)
class Served:
    """What one model serves: its store versions, newest first, and the one the plain routes answer."""

    name: str
    versions: tuple[str, ...]
    default: str

    def tags(self) -> list[str]:
        return [f"{self.name}:{version}" for version in self.versions]


def parse_policy(text: str, variable: str) -> VersionPolicy:
    """``text`` as a policy, or a one-line VersionPolicyError naming ``variable``."""
    value = text.strip()
    form, _, argument = value.partition(":")
    if value in ("", "latest"):  # empty: unset in a compose file (${VAR:-})
        return VersionPolicy()
    if form == "latest" and argument.isdigit() and 1 <= int(argument) <= MAX_VERSIONS:
        return VersionPolicy(newest=int(argument))
    if form == "specific":
        versions = tuple(version.strip() for version in argument.split(","))
        if all(VERSION.fullmatch(version) for version in versions) and len(versions) <= MAX_VERSIONS:
            return VersionPolicy(newest=0, versions=tuple(dict.fromkeys(versions)))
    raise VersionPolicyError(f"{variable}={text[:80]!r} is not a version policy; use {POLICY_FORMS}")


def resolve(name: str, use_pins: bool = True) -> Served:
    """Model ``name``'s (a registry name) served versions from its settings and the store. With
    ``use_pins``, the pins (SERVING_<KEY>_SERVED, _SERVED_DEFAULT) win when the main process set them."""
    spec, own = SPECS[name], model_settings(name)
    stored_name, _, pinned_default = own.model.partition(":")
    if use_pins and own.served:
        versions = tuple(version for version in own.served.split(",") if version)
        return Served(stored_name, versions, own.served_default or versions[0])
    policy = parse_policy(own.version_policy, model_variable(spec.key, "version_policy"))
    if stored_name not in SPECS:
        raise ModelLoadError(f"unknown model {stored_name!r}; this code serves {sorted(SPECS)}")
    if pinned_default:  # as BentoML reads it: a unique prefix of a version names that version
        pinned_default = _full_version(stored_name, pinned_default)
    if policy.newest == 1 and pinned_default:  # as before policies existed: that one version
        return Served(stored_name, (pinned_default,), pinned_default)
    versions = _chosen(stored_name, policy, model_variable(spec.key, "version_policy"))
    default = pinned_default or versions[0]
    if default not in versions:
        raise VersionPolicyError(
            f"{model_variable(spec.key, 'model')}={own.model} names a default version that "
            f"{model_variable(spec.key, 'version_policy')}={own.version_policy} does not serve "
            f"(it serves {', '.join(versions)}); name one of those, or use specific:<versions> with it"
        )
    return Served(stored_name, versions, default)


def _chosen(name: str, policy: VersionPolicy, variable: str) -> tuple[str, ...]:
    """The versions ``policy`` picks from the store, newest first."""
    stored = stored_versions(name)
    if not stored:
        raise ModelLoadError(
            f"model {name!r} is not in the BentoML model store ({bentoml_home()}); {retrain_hint()}"
        )
    if policy.newest:
        return tuple(stored[: policy.newest])
    missing = [version for version in policy.versions if version not in stored]
    if missing:
        raise VersionPolicyError(
            f"{variable} names {name}:{missing[0]}, which is not in the BentoML model store; "
            f"it holds {', '.join(stored[:8])}{' ...' if len(stored) > 8 else ''}"
        )
    return tuple(version for version in stored if version in policy.versions)


def _full_version(name: str, version: str) -> str:
    """The store version that ``name:version`` names (``version`` may be a unique prefix)."""
    try:
        return str(bentoml.models.get(f"{name}:{version}").tag.version)
    except NotFound:
        raise ModelLoadError(
            f"model {f'{name}:{version}'[:120]!r} is not in the BentoML model store ({bentoml_home()}); "
            + retrain_hint()
        ) from None
    except BentoMLException as error:  # e.g. a prefix of several versions, or a malformed tag
        raise ModelLoadError(f"{name}:{version[:80]}: {str(error)[:200]}") from None


def stored_versions(name: str) -> list[str]:
    """The complete store entries of ``name``, newest first, none newer than the store's ``latest``
    (an entry still being written is not listed yet; see DESIGN.md on ``name:latest``)."""
    try:
        latest = bentoml.models.get(f"{name}:latest")
    except BentoMLException:
        return []
    try:
        entries = bentoml.models.list(name)
    except BentoMLException:  # an entry whose files are still being copied in: the newest alone
        return [str(latest.tag.version)]
    newest = latest.info.creation_time
    ordered: list[tuple[datetime, str]] = [
        (entry.info.creation_time, str(entry.tag.version))
        for entry in entries
        if entry.info.creation_time <= newest
    ]
    ordered.sort(reverse=True)
    versions = [version for _, version in ordered]
    first = str(latest.tag.version)
    return [first, *(version for version in versions if version != first)]
