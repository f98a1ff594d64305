"""HTTP: the preview server (web/preview) and the one-click unsubscribe service (web/unsubscribe)."""
