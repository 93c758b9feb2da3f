"""The sandbox's HTTP layer: parse the request, call the service, shape the response.

One module-level ``APIRouter`` per resource (``templates``, ``sources``, ``applications``,
``environments``, ``status``, ``control``); each handler reads the services it needs from
``request.app.state``. Never imports ``subprocess`` or a concrete runtime.
"""
