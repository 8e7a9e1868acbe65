"""Drift on resume: does an existing container still match the configuration? (pure)

With ``remove = False`` a stopped container is started again on the next
spawn, keeping its files. When the configuration changed in between (a new
image, other limits, mounts, environment), the old container would silently
run the old settings (dockerspawner #423, #389). The spawner compares:

- the image: the name the container was created from against ``image`` now;
- everything else: a digest of the spec the container was created from,
  stored in its ``aiodockerspawner.spec-digest`` label, against the digest of
  the spec now. Values that change at every start by design (the API token,
  a host-network port picked at random) are left out.

``resume_drift`` then decides: ``recreate-image`` (default) recreates the
container when the image differs and resumes it with a warning when only
other settings differ; ``recreate`` recreates on any difference; ``keep``
always resumes, with a warning. Recreating removes the container and its
anonymous volumes; named volumes and host directories stay.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from aiodockerspawner.imagerefs import normalize_image
from aiodockerspawner.labels import (
    LABEL_GPUS,
    LABEL_MEM_GUARANTEE,
    LABEL_MEM_LIMIT,
    LABEL_SPEC,
    LABEL_START,
    LABEL_VERSION,
)
from aiodockerspawner.model import ObjectSpec, ObservedObject

KEEP = "keep"
RECREATE = "recreate"
RECREATE_IMAGE = "recreate-image"
POLICIES = (RECREATE_IMAGE, RECREATE, KEEP)

#: environment variables that differ at every start by design
VOLATILE_ENV = {"JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN", "JUPYTERHUB_SERVICE_URL"}
#: labels that say nothing about the configuration (or repeat what the spec says)
VOLATILE_LABELS = {LABEL_SPEC, LABEL_START, LABEL_VERSION, LABEL_MEM_LIMIT, LABEL_MEM_GUARANTEE}


def spec_digest(spec: ObjectSpec) -> str:
    """A short digest of the settings of ``spec`` that a resumed container keeps."""
    data: dict[str, Any] = dataclasses.asdict(spec)
    data["env"] = {k: v for k, v in spec.env.items() if k not in VOLATILE_ENV}
    data["labels"] = {k: v for k, v in spec.labels.items() if k not in VOLATILE_LABELS}
    data.pop("port", None)  # a host-network start may pick a new free port each time
    if data.get("gpus") is None:
        data.pop("gpus", None)  # digests of containers made before GPUs existed stay valid
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Drift:
    """How an existing object differs from the spec of this start."""

    image: bool
    settings: bool
    old_image: str
    new_image: str
    #: it was given other GPU devices than this start assigns (always recreated)
    devices: bool = False

    @property
    def any(self) -> bool:
        return self.image or self.settings or self.devices

    def describe(self) -> str:
        parts = []
        if self.image:
            parts.append(f"its image is {self.old_image}, the configured one {self.new_image}")
        if self.devices:
            parts.append("it was given other GPU devices than this start assigns")
        if self.settings:
            parts.append("other settings (command, environment, mounts, limits...) changed")
        return "; ".join(parts)


def drift(existing: ObservedObject, spec: ObjectSpec) -> Drift:
    """Compare an existing object with the spec this start would create.

    An object without a spec digest (created by dockerspawner, or by an older
    version) is compared on its image only.
    """
    old_digest = existing.labels.get(LABEL_SPEC)
    return Drift(
        image=bool(existing.image)
        and normalize_image(existing.image) != normalize_image(spec.image),
        settings=old_digest is not None and old_digest != spec.labels.get(LABEL_SPEC),
        old_image=existing.image,
        new_image=spec.image,
        devices=existing.labels.get(LABEL_GPUS, "") != spec.labels.get(LABEL_GPUS, ""),
    )


def should_recreate(found: Drift, policy: str) -> bool:
    """Whether ``policy`` recreates an object that drifted as ``found`` says.

    Other GPU devices always mean a recreate: resuming would run on devices
    that may now be another server's.
    """
    if found.devices:
        return True
    if policy == RECREATE:
        return found.any
    if policy == RECREATE_IMAGE:
        return found.image
    return False
