"""The sandbox's runtime half: what runs applications (never imports the API half or stores).

``base`` declares the protocol the API half talks to; ``simulated`` and ``local`` implement
it; ``supervisor``, ``isolation``, ``environment``, ``output`` and ``requirements`` are the
parts ``local`` is built from. Only ``sandbox/app.py`` names a concrete runtime.
"""
