"""Errors that reach the user as one clear line."""


class HippoError(Exception):
    """A failure the user can act on: the message names the file/option and what to do."""


class IndexFormatError(HippoError):
    """The index directory is missing, foreign, corrupt, newer, or built with other models."""


class UnknownDocumentError(HippoError):
    """A document id the index does not hold."""
