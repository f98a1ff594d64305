"""doctor's messages go through _(): the interface language (until the shared catalog exists, English as written)."""


def _(message: str) -> str:
    """The message in the interface language."""
    return message
