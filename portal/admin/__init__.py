"""Administration: accounts, organisations (moderators decide proposed ones) and the audit log."""
