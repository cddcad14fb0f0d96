"""The built-in board profiles (*.yaml). Installed as the package `edgefer.profiles` (pyproject.toml
maps it to this folder), so edgefer reads them with importlib.resources from a checkout and a wheel alike."""
