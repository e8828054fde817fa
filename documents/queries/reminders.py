"""What a reader sees of a reminder (the 催办 job in documents.reminders writes them)."""
from django.utils import timezone, translation
from django.utils.translation import gettext_noop

from documents.models import ReminderKind

# Chinese msgids: the job runs without a reader, so the stored text (the record of what was sent)
# is in the site's language, and each reader sees it in their own (reminder_text).
MESSAGES = {
    ReminderKind.BEFORE: gettext_noop("《%(title)s》将于%(deadline)s到期，请抓紧办理。"),
    ReminderKind.DUE: gettext_noop("《%(title)s》已到办理期限（%(deadline)s），请尽快办结。"),
    ReminderKind.ESCALATE: gettext_noop("《%(title)s》已逾期未办结（期限%(deadline)s），请督促办理。"),
}


def reminder_message(kind, receipt):
    """The automatic reminder of `kind` for `receipt`, in the active language."""
    return translation.gettext(MESSAGES[kind]) % {
        "title": receipt.document.title,
        "deadline": timezone.localtime(receipt.deadline).strftime("%Y-%m-%d %H:%M")}


def reminder_text(reminder, receipt):
    """What a reader sees for a sent reminder: an automatic one in the reader's language (the
    receipt's deadline is fixed at dispatch, so it reads as it was sent); a person's own words
    (人工催办) as they were written."""
    if reminder.kind in MESSAGES and receipt.deadline is not None:
        return reminder_message(reminder.kind, receipt)
    return reminder.message
