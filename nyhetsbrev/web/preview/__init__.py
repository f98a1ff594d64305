"""Preview an issue in the browser: desktop and phone side by side, rebuilt live on every change."""

from .server import BuildEvent, PreviewServer, serve

__all__ = ["BuildEvent", "PreviewServer", "serve"]
