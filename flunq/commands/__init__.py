"""The ``flunq`` subcommands beyond ``validate``: ``run`` and ``serve``."""
