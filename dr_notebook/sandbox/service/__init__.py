"""What may happen in the sandbox: status transitions, jobs, versions, parameters, owners and
roles, uploads, validation, execution environments. Imports the store and ``runtime.base``."""
