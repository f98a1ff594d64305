"""nyhetsbrev doctor: know before sending that the mail will arrive (settings, DNS, relay, mailbox, web addresses)."""
