"""`directory`: one JSON document per live item in a folder; withdrawn items removed.

Useful as a hand-off to systems that read files (an intranet CMS import folder, an rsync
target), and as the simplest outlet to watch the engine work. Each document is the item's
canonical JSON (`syndicate.adapter.item_document`); its file is written to a temporary name,
fsynced and renamed, so a reader never sees half a document. `inventory` lists the items
that have a document in the folder.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar
from uuid import UUID

import requests
from pydantic import BaseModel, ConfigDict, Field

from syndicate.adapter import (
    Capabilities,
    DeliveryJob,
    ExpectsFiles,
    Operation,
    OutletFolder,
    ReadsBack,
    Receipt,
    Rendition,
    TakesInventory,
    WitnessedCheckpoint,
    canonical_document,
)
from syndicate.adapterkit import (
    UUID_PATTERN,
    BaseAdapter,
    FolderWriter,
    file_errors,
    refuse_review_notice,
)

__all__ = ["DirectoryAdapter", "DirectorySettings"]

_DOCUMENT = re.compile(rf"{UUID_PATTERN}\.json")


class DirectorySettings(BaseModel):
    """`[outlets.NAME]` settings of a directory outlet."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path = Field(description="Folder for the documents (relative to the home).")


class DirectoryAdapter(
    BaseAdapter[DirectorySettings], ReadsBack, TakesInventory, ExpectsFiles
):
    """Writes `<item id>.json` per live item; deletes it on withdrawal."""

    # No `label`: a hand-off folder is not a public channel; reports show its kind.
    kind: ClassVar[str] = "directory"
    capabilities: ClassVar[Capabilities] = Capabilities(
        edits_in_place=True,
        retracts=True,
        deduplicates=True,  # writing the same bytes again changes nothing
        reads_back=True,
    )

    def render(self, job: DeliveryJob) -> Rendition:
        refuse_review_notice(job, self.kind)
        name = f"{job.item.item_id}.json"
        key = str(job.delivery_id)
        if job.operation in (Operation.RETRACT, Operation.WITHDRAWAL_NOTICE):
            return Rendition.of(
                b"",
                "application/json",
                key=key,
                meta={"file": name, "action": "delete"},
            )
        return Rendition.of(
            canonical_document(job) + b"\n",
            "application/json",
            key=key,
            meta={"file": name, "action": "write"},
        )

    def deliver(self, rendition: Rendition, session: requests.Session) -> Receipt:
        return self._put(FolderWriter(self.settings.path), rendition)

    @staticmethod
    def _put(folder: FolderWriter, rendition: Rendition) -> Receipt:
        target = folder.file(rendition.meta.get("file", ""))
        with file_errors(f"cannot write {target}"):
            if rendition.meta.get("action") == "delete":
                folder.remove(target.name)
                return Receipt(remote_id=str(target), detail={"action": "deleted"})
            folder.write(target.name, rendition.data)
        return Receipt(remote_id=str(target), detail={"action": "written"})

    def read_back(self, job: DeliveryJob, session: requests.Session) -> bytes | None:
        """The document now in the folder for this item, or None."""
        path = self.settings.path / f"{job.item.item_id}.json"
        return path.read_bytes() if path.is_file() else None

    def expected_files(
        self,
        scratch: Path,
        renditions: Sequence[Rendition],
        checkpoints: Sequence[WitnessedCheckpoint],
        public_key: str | None,
    ) -> OutletFolder:
        """The folder the renditions give (each item's newest delivered one, in log
        order), written into `scratch` with `deliver`'s code."""
        owners: dict[str, tuple[UUID, ...]] = {}
        copy = FolderWriter(scratch, durable=False)
        for rendition in renditions:
            self._put(copy, rendition)
            name = rendition.meta.get("file", "")
            if _DOCUMENT.fullmatch(name) and rendition.meta.get("action") == "write":
                owners[name] = (UUID(name.removesuffix(".json")),)
        return OutletFolder(root=self.settings.path, owners=owners)

    def inventory(self, session: requests.Session) -> set[UUID]:
        """The items with a `<item id>.json` document in the folder (other files, and
        names that are not item ids, are ignored)."""
        folder = self.settings.path
        if not folder.is_dir():
            return set()
        return {
            UUID(p.name.removesuffix(".json"))
            for p in folder.iterdir()
            if _DOCUMENT.fullmatch(p.name) and p.is_file()
        }
