"""Which GPUs a `CUDA_VISIBLE_DEVICES` value names, read as CUDA reads it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from carbonlens.sensors._nvml_lib import NvmlError


def parse_visible_devices(
    value: str | None, uuids: Sequence[str], index_by_uuid: Callable[[str], int]
) -> tuple[list[int], list[str]]:
    """Physical NVML indices named by a `CUDA_VISIBLE_DEVICES` value, in CUDA's order.

    As CUDA reads it: unset means every GPU; entries are indices ("0,2"), GPU UUIDs or
    unique prefixes of them ("GPU-8932f937"), MIG UUIDs ("MIG-<uuid>") or the legacy
    "MIG-GPU-<gpu-uuid>/<gi>/<ci>"; the first entry that names no GPU ends the list, so
    "", "-1" and "NoDevFiles" hide every GPU. A MIG instance stands for its parent GPU.

    `value` is None when unset; `uuids` lists every GPU's UUID by NVML index;
    `index_by_uuid` resolves a MIG UUID to its parent's index. Returns the indices without
    duplicates, and notes for `assumptions()`.
    """
    if value is None:
        return list(range(len(uuids))), []
    indices: list[int] = []
    notes: list[str] = []
    for raw in value.split(","):
        entry = raw.strip()
        index = _lookup(entry, uuids, index_by_uuid)
        if index is None:
            if entry not in ("", "-1", "NoDevFiles"):
                notes.append(
                    f"CUDA_VISIBLE_DEVICES entry {entry!r} names no GPU: "
                    "it and the entries after it are ignored, as CUDA does"
                )
            break
        if entry.startswith("MIG-"):
            notes.append(
                f"gpu{index}: {entry} is a MIG instance; the energy is the whole "
                "parent GPU's (every MIG slice and idle power), not this slice's"
            )
        if index not in indices:
            indices.append(index)
    return indices, notes


def _lookup(entry: str, uuids: Sequence[str], index_by_uuid: Callable[[str], int]) -> int | None:
    if entry.isascii() and entry.isdigit():
        return int(entry) if int(entry) < len(uuids) else None
    if entry.startswith("MIG-GPU-"):  # legacy MIG-GPU-<gpu uuid>/<gi>/<ci>
        return _by_prefix(entry[len("MIG-") :].split("/", 1)[0], uuids)
    if entry.startswith("MIG-"):
        try:
            return index_by_uuid(entry)
        except NvmlError:
            return None
    if entry.startswith("GPU-"):
        return _by_prefix(entry, uuids)
    return None


def _by_prefix(prefix: str, uuids: Sequence[str]) -> int | None:
    matches = [i for i, uuid in enumerate(uuids) if uuid.lower().startswith(prefix.lower())]
    return matches[0] if len(matches) == 1 else None
