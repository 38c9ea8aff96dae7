"""The judges' review app: accounts, decisions (with a version check), detection corrections.

``store`` holds the tables and the transactional operations; ``app`` is the Flask app; ``cli`` adds the
``serve``, ``users``, ``report`` and ``dataset export-corrections`` commands.
"""
