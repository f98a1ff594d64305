"""Pure rendering: Markdown, the email's HTML and plain text, and the preflight checks."""
