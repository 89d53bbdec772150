"""Input channels (credentials.yml): REST, socket.io, the chat page and the trainer page."""
