"""The only writers of documents, one module per stage of the flow: check_* validates input and
permission, do_* changes state in one transaction, writes the audit log and sends events after commit.

`from documents.actions import X` keeps working for every name the single module had; the read
side (visibility, receipts, active steps) lives in documents.queries.visibility, whose __all__ names what
documents.queries and this package re-export.
"""
# ruff: noqa: F401
from documents.actions.common import (
    BODY_KINDS,
    DEFAULT_DEADLINES,
    MAX_BLOCK,
    MAX_BLOCKS,
    MAX_BODY,
    MAX_NOTE,
    MAX_OPINION,
    MAX_RECIPIENT_SPECS,
    MAX_TITLE,
    _ev,
    _family_ids,
    _name,
    _notify_active_steps,
    _parse_dt,
    _require_post,
    _roles_phrase,
    _secretary_post,
    _step_people,
    _text,
    default_deadline,
)
from documents.actions.drafting import (
    _check_drafting_post,
    _check_file_unclassified,
    _co_issuers,
    _link_sources,
    _save_version,
    _set_recipients,
    _snapshot,
    check_attachment,
    check_body,
    check_can_edit,
    check_document_fields,
    check_document_routing,
    check_routing_for,
    do_add_attachment,
    do_create_document,
    do_update_document,
    resolve_recipients,
    suggest_title,
)
from documents.actions.review import (
    _finalise,
    _leader_posts_of,
    _state_for,
    check_step_actor,
    check_submit,
    do_decide,
    do_submit,
)
from documents.actions.numbering import (
    default_prefix,
    do_register,
    do_void_number,
    format_number,
    take_number,
)
from documents.actions.dispatch import (
    do_dispatch,
)
from documents.actions.receiving import (
    _receipt_action,
    _receipt_changed,
    _require_open,
    check_assignment_target,
    do_assign,
    do_circulate,
    do_complete_assignment,
    do_finish,
    do_instruct,
    do_mark_read,
    do_propose,
    do_register_receipt,
    do_reply,
    do_return,
    do_sign,
)
from documents.actions.reminders import (
    do_remind,
    do_remind_all,
    reminder_people,
)
from documents.models import OPEN_RECEIPT_STATES
from documents.queries.visibility import *  # noqa: F403 (the read side: the names of visibility.__all__)
