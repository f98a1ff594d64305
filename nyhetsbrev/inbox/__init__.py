"""What comes back: the mailbox (the only IMAP user), classifying and applying replies, bounces and complaints."""
