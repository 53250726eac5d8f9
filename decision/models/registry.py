"""The model registry on disk: `<root>/<name>/<version>/model.onnx` + `manifest.json`.

Entries starting with a dot are ignored (publish writes `.publishing-*` and renames it
into place). Versions sort naturally ("2" < "10", "1.2" < "1.10")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from decision.models.manifest import MANIFEST_FILE, MODEL_FILE

_PART = re.compile(r"(\d+)")


def version_key(version: str) -> tuple:
    return tuple((0, int(p), "") if p.isascii() and p.isdigit() else (1, 0, p) for p in _PART.split(version) if p)


@dataclass(frozen=True, slots=True)
class VersionEntry:
    name: str
    version: str
    path: Path
    stamp: tuple[int, int]  # (mtime_ns, size) of model.onnx: a changed file is a new candidate

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"


class Registry:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path(self, name: str, version: str) -> Path:
        return self.root / name / version

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and not p.name.startswith((".", "_")) and self.versions(p.name))

    def versions(self, name: str) -> list[VersionEntry]:
        """Versions of `name`, oldest first."""
        base = self.root / name
        if not base.is_dir():
            return []
        out = []
        for p in base.iterdir():
            if p.name.startswith(".") or not p.is_dir() or not (p / MANIFEST_FILE).exists():
                continue
            try:
                st = (p / MODEL_FILE).stat()
                stamp = (st.st_mtime_ns, st.st_size)
            except OSError:
                stamp = (0, 0)
            out.append(VersionEntry(name, p.name, p, stamp))
        return sorted(out, key=lambda e: version_key(e.version))

    def entry(self, name: str, version: str) -> VersionEntry | None:
        return next((e for e in self.versions(name) if e.version == version), None)
