"""Stage `books`: what the workspace keeps. The result store (SQLAlchemy: SQLite or PostgreSQL),
the audit trail, reviewers' corrections, and the checks that need more than one document
(duplicates)."""
