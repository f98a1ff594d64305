"""nyhetsbrev: write, preview and send a newsletter from Markdown sections."""


def __getattr__(name: str):
    """`nyhetsbrev.__version__`: the installed package's version, read from its metadata (pyproject.toml is its one source)."""
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("nyhetsbrev")
        except PackageNotFoundError:  # run from a source folder that was never installed
            return "0+unknown"
    raise AttributeError(f"module 'nyhetsbrev' has no attribute {name!r}")
