"""Mail out: messages, headers, the SMTP transport (the only smtplib user), dispatch and sending."""
