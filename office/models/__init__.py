from office.models.audit import AuditEntry, AuditHead
from office.models.directory import DirectorySync
from office.models.storage import KeyEncryptionKey, KeyMaterial, StoredFile
from office.models.org import (
    LEVEL_OF_KIND,
    ROLE_FIELDS,
    ROLE_LABELS,
    Delegation,
    Person,
    Post,
    Unit,
    UnitKind,
)

__all__ = [
    "AuditEntry",
    "AuditHead",
    "Delegation",
    "DirectorySync",
    "KeyEncryptionKey",
    "KeyMaterial",
    "LEVEL_OF_KIND",
    "Person",
    "Post",
    "ROLE_FIELDS",
    "ROLE_LABELS",
    "StoredFile",
    "Unit",
    "UnitKind",
]
