"""Stage `intake`: the workspace and the life of a file in it.

Folders and configuration (`workspace`), what waits in intake/ (`watcher`), claiming files and
crash recovery (`claims`), the journal of every file (`journal`), one claimed document through the
chain into the books and done/ or failed/ (`jobs`, `record`).
"""
