"""edgefer: take facial-expression-recognition models to ARM edge boards and measure them honestly.

This top-level module must stay import-light: the device-side runner (`edgefer.runner`,
`edgefer.runner.energy`) is copied to boards that have numpy and a runtime but no torch.
"""

__version__ = "0.2.0"
