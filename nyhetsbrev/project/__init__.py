"""Files on disk become objects: settings, roster, issue folders, init and new."""
