"""Container networking: port publishing (ports, listeners, forwarder) and the user-mode network
stacks (slirp4netns, pasta). See each module's docstring; nothing is imported here."""
