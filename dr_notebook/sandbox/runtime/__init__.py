"""The sandbox's runtime: what runs applications (imports nothing of the sandbox outside it).

``base`` declares the protocol the services talk to; ``simulated`` and ``local`` implement
it; ``builder``, ``supervisor``, ``isolation``, ``network``, ``environment``, ``output``,
``requirements`` and ``pipfile`` are the parts ``local`` is built from; ``interpreters`` finds
this machine's Pythons (the execution environments); ``proxy`` forwards requests to a running
app. Only ``sandbox/app.py`` names a concrete runtime.
"""
