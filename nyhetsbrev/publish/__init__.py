"""What build writes: the build pipeline (and the archive)."""
