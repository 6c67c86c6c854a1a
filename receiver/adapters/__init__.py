"""CRM adapters; built-ins and third-party ones register in the `receiver.adapters` entry-point group."""

from .base import Adapter, Delivered, Failed, Outcome, RetryLater

__all__ = ["Adapter", "Delivered", "Failed", "Outcome", "RetryLater"]
