"""Notifications: real-time, e-mail, batches and the daily summary."""
