"""The sandbox's SQLite state: the schema, templates and jobs (``database``), application
sources and versions (``sources``), applications (``applications``). Imports no service."""
