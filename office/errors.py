class ActionError(Exception):
    """A refusal with a message for the user (Chinese) and an HTTP status (4xx)."""

    def __init__(self, message, status=400, code=None):
        super().__init__(str(message))
        self.message = str(message)
        self.status = status
        self.code = code
