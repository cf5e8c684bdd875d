"""pypitoken-core for devpi: PyPI-style API tokens as a devpi-server plugin.

``pypitoken_devpi.server`` holds the devpi-server hooks (entry point group
``devpi_server``), ``pypitoken_devpi.client`` the devpi-client commands (group
``devpi_client``). Everything else is private. See ``examples/devpi/README.md``.
"""
