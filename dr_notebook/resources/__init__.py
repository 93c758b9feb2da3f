"""One module per API resource (``client.templates``, ``client.app_sources``), plus what they
share: reading pages, request bodies, progress bars."""
