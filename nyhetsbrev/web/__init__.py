"""HTTP: the preview server (and the one-click unsubscribe endpoint)."""
