"""The runtime half of the sandbox: builds, runs and supervises applications."""
