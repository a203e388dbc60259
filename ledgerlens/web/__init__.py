"""The review screen (`ledgerlens review serve`): a local web app over the workspace's store.

The queue of documents to look at, and each document's pages with a box on every value beside a
form to fix and approve them. It reads and writes through `ledgerlens.pipeline.books` (queue,
review, evidence, pages) and keeps no state of its own. `app.create_app` builds it.
"""
