"""The intake API: entries straight from the contest's app, scored as they arrive (docs/api.md).

Served under ``/api/v1`` by ``cleanup-verify serve`` beside the review app (one server, one port):

* :mod:`.routes`: the Flask blueprint (bearer tokens, JSON errors) built from :mod:`.spec`'s route table,
  which also writes the OpenAPI document; :mod:`.fields`: the entry's fields, validated and documented from
  one table;
* :mod:`.uploads`: a multipart post checked whole (sizes, counts, photo content) before anything is written;
* :mod:`.entries`: a posted entry as the workspace records it (as its batch folder would be) and as the API
  reports it;
* :mod:`.tokens`: tokens and the per-token rate limit; :mod:`.cli`: ``cleanup-verify tokens``;
* :mod:`.worker`: the server's thread that scores the queue through the runner.

The SQL lives in :mod:`pipeline.store.intake` and :mod:`pipeline.store.tokens`.
"""
