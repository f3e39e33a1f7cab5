"""The audit log: one writer, a hash chain with a signed head, anchors outside the database."""
