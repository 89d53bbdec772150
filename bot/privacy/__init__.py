"""Personal data: what it is, where it may be kept, and for how long.

    mask        the one list of what is personal, and the one masker
    drafts      the request form's personal values in full, outside the tracker store
    retention   BOT_RETENTION_DAYS: older conversations, feedback and drafts deleted
    subject     one person's data: export it (a data-access request) or forget it
    log_filter  personal data masked in log records

No Rasa in here: bot/rasa_addons/stores/tracker_store.py masks every event with `mask`
before Rasa stores it; the tracker store's table is read and deleted from with
plain SQL (retention, subject).
"""
