"""The four roles (api, worker, executor, timer), each a long-lived supervised task."""
