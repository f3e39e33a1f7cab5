"""The governed policy in force: read it, reload it (audited), follow the file."""
