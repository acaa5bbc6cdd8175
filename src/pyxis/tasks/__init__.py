"""Background tasks identified by UPIDs, with the upstream on-disk log, index and active files.

``upid`` holds the task identifier (parse, render, log-file location); ``manager`` runs
task coroutines detached from the HTTP request that started them, writes their logs and
answers the status, log and list queries behind ``/nodes/{node}/tasks``.
"""
