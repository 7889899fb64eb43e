"""Billing (API.md "Subscription"): what a provider's events say about a company's subscription.

`state.py` is the pure state machine (events in, the subscription out, in any order); `stripe.py`
and `razorpay.py` turn each provider's signed webhooks into its events through the provider's
own SDK; `store.py` applies an event once and writes what it means to the company's row, which
is all the rest of the product reads (core/accounts/subscription.py)."""
