"""The audit log: one writer, a hash chain with an HMAC per record, and a Merkle tree over it whose heads are
signed with Ed25519 in anchors (files outside the database) and exports (verifiable with the public key)."""
