from documents.models.dispatch import (
    OPEN_RECEIPT_STATES,
    Assignment,
    Circulation,
    Dispatch,
    Forward,
    ReceiptState,
    Receipt,
    RecipientRole,
    Reply,
)
from documents.models.document import (
    DIRECTIVE_TYPES,
    UPWARD_TYPES,
    Attachment,
    Disclosure,
    DocState,
    DocType,
    Document,
    DocumentVersion,
    Urgency,
    flatten_body,
)
from documents.models.flow import Decision, Step, StepKind, StepState
from documents.models.numbering import NumberSequence, VoidedNumber
from documents.models.reminders import Reminder, ReminderKind
from documents.models.seals import SealKeeper

__all__ = [
    "Assignment", "Attachment", "Circulation", "DIRECTIVE_TYPES", "Decision", "Disclosure", "Dispatch",
    "DocState", "DocType", "Document", "DocumentVersion", "Forward", "NumberSequence", "OPEN_RECEIPT_STATES",
    "Receipt", "ReceiptState", "RecipientRole", "Reminder", "ReminderKind", "Reply", "SealKeeper", "Step", "StepKind",
    "StepState", "UPWARD_TYPES", "Urgency", "VoidedNumber", "flatten_body",
]
