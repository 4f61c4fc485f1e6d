"""The review console: passkey login, queue, change pages and signed decisions, for humans."""
