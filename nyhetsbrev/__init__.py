"""nyhetsbrev: write, preview and send a newsletter from Markdown sections."""

__version__ = "0.1.0"
