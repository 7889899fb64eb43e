"""Billing: the providers' webhooks, the owner's subscription page and its links."""
